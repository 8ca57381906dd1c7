"""Reference for `medxfer bench stats`: the same workload with NumPy / SciPy / scikit-learn.

Usage: python stats_reference.py DATA.csv N_RESAMPLES SEED
DATA.csv has a header and rows `label,score` (label 1 = positive). Prints one JSON object:
{"seconds", "auc", "variance", "delong_ci", "bootstrap_ci", "versions"}. The timed part is
AUC (roc_auc_score) + DeLong variance and 95% CI (Sun & Xu's mid-rank algorithm, vectorised
NumPy) + a stratified bootstrap percentile CI (positives and negatives resampled separately,
roc_auc_score on every resample). Loading the file is not timed.
"""

import json
import sys
import time

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.metrics import roc_auc_score


def main():
    path, n_resamples, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    y = data[:, 0].astype(bool)
    s = data[:, 1]

    start = time.perf_counter()
    auc = roc_auc_score(y, s)

    pos, neg = s[y], s[~y]
    m, n = len(pos), len(neg)
    tx = stats.rankdata(pos)
    ty = stats.rankdata(neg)
    tz = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    variance = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n
    half = stats.norm.ppf(0.975) * np.sqrt(variance)
    delong_ci = [max(0.0, auc - half), min(1.0, auc + half)]

    rng = np.random.default_rng(seed)
    pos_idx, neg_idx = np.flatnonzero(y), np.flatnonzero(~y)
    replicates = np.empty(n_resamples)
    for b in range(n_resamples):
        idx = np.concatenate([rng.choice(pos_idx, m), rng.choice(neg_idx, n)])
        replicates[b] = roc_auc_score(y[idx], s[idx])
    low, high = np.percentile(replicates, [2.5, 97.5])
    seconds = time.perf_counter() - start

    print(json.dumps({
        "seconds": seconds,
        "auc": float(auc),
        "variance": float(variance),
        "delong_ci": [float(x) for x in delong_ci],
        "bootstrap_ci": [float(low), float(high)],
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                     "sklearn": sklearn.__version__},
    }))


if __name__ == "__main__":
    main()
