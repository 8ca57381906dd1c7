//! Binary and multi-class ranking metrics, curves, calibration and DeLong against
//! scikit-learn, an independent Sun & Xu implementation and pROC's published aSAH values.

mod support;

use medxfer_eval::auc::{MultiClassAuc, roc_auc, roc_auc_multiclass};
use medxfer_eval::calibration::{brier_score, reliability_curve};
use medxfer_eval::curves::{average_precision, pr_curve, roc_curve};
use medxfer_eval::delong::{delong_ci, delong_paired, delong_variance};
use support::*;

const EXACT: f64 = 1e-10;

#[test]
fn binary_scorers_match_scikit_learn_and_the_reference_delong() {
    let cases = cases("binary.json");
    let mut checked = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let y = bools(&case["y"]);
        let s = f64s(&case["s"]);
        assert_close(
            roc_auc(&y, &s).unwrap(),
            num(&case["auc"]),
            EXACT,
            &format!("{name} auc"),
        );
        assert_close(
            average_precision(&y, &s).unwrap(),
            num(&case["average_precision"]),
            EXACT,
            &format!("{name} AP"),
        );

        let roc = roc_curve(&y, &s).unwrap();
        let fpr: Vec<f64> = roc.iter().map(|p| p.fpr).collect();
        let tpr: Vec<f64> = roc.iter().map(|p| p.tpr).collect();
        let thr: Vec<f64> = roc.iter().skip(1).map(|p| p.threshold).collect();
        assert_all_close(
            &fpr,
            &f64s(&case["roc"]["fpr"]),
            EXACT,
            &format!("{name} fpr"),
        );
        assert_all_close(
            &tpr,
            &f64s(&case["roc"]["tpr"]),
            EXACT,
            &format!("{name} tpr"),
        );
        assert_all_close(
            &thr,
            &f64s(&case["roc"]["thresholds"]),
            0.0,
            &format!("{name} roc thresholds"),
        );

        // scikit-learn lists the PR curve from the lowest threshold and appends (P=1, R=0).
        let pr = pr_curve(&y, &s).unwrap();
        let mut precision: Vec<f64> = pr.iter().rev().map(|p| p.precision).collect();
        let mut recall: Vec<f64> = pr.iter().rev().map(|p| p.recall).collect();
        precision.push(1.0);
        recall.push(0.0);
        let thresholds: Vec<f64> = pr.iter().rev().map(|p| p.threshold).collect();
        assert_all_close(
            &precision,
            &f64s(&case["pr"]["precision"]),
            EXACT,
            &format!("{name} precision"),
        );
        assert_all_close(
            &recall,
            &f64s(&case["pr"]["recall"]),
            EXACT,
            &format!("{name} recall"),
        );
        assert_all_close(
            &thresholds,
            &f64s(&case["pr"]["thresholds"]),
            0.0,
            &format!("{name} pr thresholds"),
        );

        if let Some(brier) = case.get("brier") {
            assert_close(
                brier_score(&y, &s).unwrap(),
                num(brier),
                EXACT,
                &format!("{name} brier"),
            );
            for bins in [5usize, 10] {
                let want = &case["calibration"][bins.to_string()];
                let got = reliability_curve(&y, &s, bins).unwrap();
                let prob_true: Vec<f64> = got.iter().map(|b| b.fraction_positive).collect();
                let prob_pred: Vec<f64> = got.iter().map(|b| b.mean_predicted).collect();
                assert_all_close(
                    &prob_true,
                    &f64s(&want["prob_true"]),
                    EXACT,
                    &format!("{name} calibration {bins} true"),
                );
                assert_all_close(
                    &prob_pred,
                    &f64s(&want["prob_pred"]),
                    EXACT,
                    &format!("{name} calibration {bins} pred"),
                );
            }
        }

        match case.get("delong") {
            Some(delong) => {
                let ci = delong_ci(&y, &s, 0.95).unwrap();
                assert_close(
                    ci.auc,
                    num(&delong["auc"]),
                    EXACT,
                    &format!("{name} delong auc"),
                );
                assert_close(
                    ci.variance,
                    num(&delong["variance"]),
                    EXACT,
                    &format!("{name} delong variance"),
                );
            }
            None => assert!(
                delong_variance(&y, &s).is_err(),
                "{name}: variance needs 2 per class"
            ),
        }
        if let Some(paired) = case.get("paired") {
            let s_b = f64s(&case["s_b"]);
            let c = delong_paired(&y, &s, &s_b, 0.95).unwrap();
            assert_close(
                c.auc_a,
                num(&paired["auc_a"]),
                EXACT,
                &format!("{name} paired auc a"),
            );
            assert_close(
                c.auc_b,
                num(&paired["auc_b"]),
                EXACT,
                &format!("{name} paired auc b"),
            );
            assert_close(
                c.variance,
                num(&paired["variance"]),
                EXACT,
                &format!("{name} paired variance"),
            );
            assert_close(c.z, num(&paired["z"]), 1e-9, &format!("{name} paired z"));
            assert_close(
                c.p_value,
                num(&paired["p_value"]),
                1e-10,
                &format!("{name} paired p"),
            );
        }
        checked += 1;
    }
    eprintln!("checked {checked} binary scorer cases against scikit-learn / reference DeLong");
    assert!(checked >= 10);
}

#[test]
fn multiclass_auc_matches_scikit_learn() {
    let cases = cases("multiclass.json");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let k = case["k"].as_u64().unwrap() as usize;
        let labels = usizes(&case["labels"]);
        let scores = f64s(&case["scores"]);
        for (key, mode) in [
            ("ovr_macro", MultiClassAuc::OvrMacro),
            ("ovr_weighted", MultiClassAuc::OvrWeighted),
            ("ovo_macro", MultiClassAuc::OvoMacro),
            ("ovo_weighted", MultiClassAuc::OvoWeighted),
        ] {
            let got = roc_auc_multiclass(&labels, &scores, k, mode).unwrap();
            assert_close(got, num(&case[key]), EXACT, &format!("{name} {key}"));
        }
    }
    eprintln!(
        "checked {} multi-class cases x 4 averaging modes",
        cases.len()
    );
}

#[test]
fn delong_matches_proc_published_asah_values() {
    for case in cases("proc_asah.json") {
        let marker = case["marker"].as_str().unwrap();
        let y = bools(&case["y"]);
        let s = f64s(&case["s"]);
        let ci = delong_ci(&y, &s, 0.95).unwrap();
        // pROC prints 15 significant digits and its tests compare at ~1.5e-8.
        assert_close(
            ci.auc,
            num(&case["theta"]),
            1e-14,
            &format!("{marker} theta"),
        );
        assert_close(
            ci.variance,
            num(&case["published_variance"]),
            1e-14,
            &format!("{marker} variance"),
        );
        if let Some(published) = case.get("published_ci") {
            let p = f64s(published);
            assert_close(ci.ci_low, p[0], 1e-14, &format!("{marker} ci low"));
            assert_close(ci.auc, p[1], 1e-14, &format!("{marker} auc"));
            assert_close(ci.ci_high, p[2], 1e-14, &format!("{marker} ci high"));
        }
    }
}
