"""Cross-check of `medxfer export --to onnx` with ONNX Runtime (run by export_cli.rs).

Usage: export_onnxruntime.py EXPORT_DIR CASES_JSON

CASES_JSON holds, per image, its 8-bit grey pixels (already the run's image size, so
medxfer's pad-and-resize leaves them as they are) and the probabilities `medxfer predict
--json` gave. Each pixel becomes v / 255, then (x - mean[c]) * (1 / std[c]) per channel, as
medxfer normalises. Every fold_K.onnx listed in export.json is run with ONNX Runtime; the mean
of their probabilities (medxfer's fold ensemble) is compared with medxfer's, and so is the
output of ensemble.onnx when export.json lists it. Prints one JSON line: {"max_abs_diff": ...,
"ensemble_max_abs_diff": ... or null, "folds": ..., "images": ...}. Exit status 3 when a
model's output is not a probability vector of the exported shape.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def input_batch(cases, manifest):
    _, channels, height, width = manifest["input"]["shape"]
    norm = manifest["input"]["normalisation"]
    mean = np.asarray(norm["mean"], dtype=np.float32)
    std = np.asarray(norm["std"], dtype=np.float32)
    batch = np.empty((len(cases), channels, height, width), dtype=np.float32)
    for i, case in enumerate(cases):
        grey = np.asarray(case["pixels"], dtype=np.float32).reshape(height, width) / np.float32(255.0)
        for c in range(channels):
            m = mean[c] if mean.size > 1 else mean[0]
            s = std[c] if std.size > 1 else std[0]
            batch[i, c] = (grey - m) * (np.float32(1.0) / s)
    return batch


def main():
    export_dir = Path(sys.argv[1])
    cases = json.loads(Path(sys.argv[2]).read_text())
    manifest = json.loads((export_dir / "export.json").read_text())
    batch = input_batch(cases, manifest)
    classes = len(manifest["class_names"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    def run(file):
        session = ort.InferenceSession(
            str(export_dir / file), options, providers=["CPUExecutionProvider"]
        )
        (probabilities,) = session.run([manifest["output"]["name"]], {manifest["input"]["name"]: batch})
        sums = probabilities.sum(axis=1)
        if probabilities.shape != (len(cases), classes) or np.abs(sums - 1.0).max() > 1e-5:
            print(f"{file}: output of shape {probabilities.shape}, row sums {sums}")
            sys.exit(3)
        return probabilities

    total = np.zeros((len(cases), classes), dtype=np.float64)
    for fold in manifest["folds"]:
        total += run(fold["file"])
    ensemble = total / len(manifest["folds"])
    expected = np.asarray(
        [[case["probabilities"][name] for name in manifest["class_names"]] for case in cases]
    )
    one_graph = None
    if manifest.get("ensemble_file"):
        one_graph = float(np.abs(run(manifest["ensemble_file"]) - expected).max())
    print(
        json.dumps(
            {
                "max_abs_diff": float(np.abs(ensemble - expected).max()),
                "ensemble_max_abs_diff": one_graph,
                "folds": len(manifest["folds"]),
                "images": len(cases),
                "onnxruntime": ort.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
