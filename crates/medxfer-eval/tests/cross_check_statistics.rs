//! Paired tests, McNemar, multiplicity adjustment and bootstrap intervals against SciPy/NumPy.

mod support;

use medxfer_eval::bootstrap::{bca_interval, percentile_interval};
use medxfer_eval::mcnemar::mcnemar_exact;
use medxfer_eval::multiplicity::{benjamini_hochberg, holm};
use medxfer_eval::paired_t::paired_t_test;
use medxfer_eval::wilcoxon::wilcoxon_signed_rank;
use support::*;

#[test]
fn wilcoxon_matches_scipy() {
    let all = load("statistics.json");
    let cases = all["cases"]["wilcoxon"].as_array().unwrap();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let r = wilcoxon_signed_rank(&f64s(&case["a"]), &f64s(&case["b"])).unwrap();
        assert_close(
            r.statistic,
            num(&case["statistic"]),
            1e-12,
            &format!("{name} statistic"),
        );
        assert_close(
            r.p_value,
            num(&case["p_value"]),
            1e-10,
            &format!("{name} p ({:?})", r.method),
        );
    }
    eprintln!(
        "checked {} Wilcoxon cases against scipy.stats.wilcoxon",
        cases.len()
    );
}

#[test]
fn paired_t_matches_scipy() {
    let all = load("statistics.json");
    for case in all["cases"]["ttest_rel"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let r = paired_t_test(&f64s(&case["a"]), &f64s(&case["b"])).unwrap();
        assert_close(r.t, num(&case["t"]), 1e-10, &format!("{name} t"));
        assert_close(
            r.p_value,
            num(&case["p_value"]),
            1e-10,
            &format!("{name} p"),
        );
    }
}

#[test]
fn mcnemar_matches_scipy_binomtest() {
    let all = load("statistics.json");
    for case in all["cases"]["binomtest"].as_array().unwrap() {
        let (b, c) = (case["b"].as_u64().unwrap(), case["c"].as_u64().unwrap());
        let r = mcnemar_exact(b, c);
        assert_close(
            r.p_value,
            num(&case["p_value"]),
            1e-10,
            &format!("McNemar b={b} c={c}"),
        );
    }
}

#[test]
fn holm_and_bh_match_references() {
    let all = load("statistics.json");
    for case in all["cases"]["adjust"].as_array().unwrap() {
        let p = f64s(&case["p"]);
        assert_all_close(&holm(&p).unwrap(), &f64s(&case["holm"]), 1e-12, "holm");
        assert_all_close(
            &benjamini_hochberg(&p).unwrap(),
            &f64s(&case["bh"]),
            1e-12,
            "BH (scipy false_discovery_control)",
        );
    }
}

#[test]
fn bootstrap_intervals_match_numpy_formulas() {
    for case in cases("bootstrap_intervals.json") {
        let reps = f64s(&case["replicates"]);
        let level = num(&case["level"]);
        let (lo, hi) = percentile_interval(&reps, level).unwrap();
        let want = f64s(&case["percentile"]);
        assert_close(lo, want[0], 1e-12, "percentile low");
        assert_close(hi, want[1], 1e-12, "percentile high");
        let (lo, hi) = bca_interval(
            &reps,
            num(&case["estimate"]),
            &f64s(&case["jackknife"]),
            level,
        )
        .unwrap();
        let want = f64s(&case["bca"]);
        assert_close(lo, want[0], 1e-10, "BCa low");
        assert_close(hi, want[1], 1e-10, "BCa high");
    }
}
