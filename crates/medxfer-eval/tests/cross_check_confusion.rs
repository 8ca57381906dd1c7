//! The confusion core against scikit-learn's classification metrics.

mod support;

use medxfer_eval::confusion::ConfusionMatrix;
use support::*;

const EXACT: f64 = 1e-10;

#[test]
fn confusion_metrics_match_scikit_learn() {
    let cases = cases("confusion.json");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let k = case["k"].as_u64().unwrap() as usize;
        let cm =
            ConfusionMatrix::new(&usizes(&case["y_true"]), &usizes(&case["y_pred"]), k).unwrap();
        assert_close(
            cm.accuracy(),
            num(&case["accuracy"]),
            EXACT,
            &format!("{name} accuracy"),
        );
        assert_close(
            cm.balanced_accuracy(),
            num(&case["balanced_accuracy"]),
            EXACT,
            &format!("{name} balanced accuracy"),
        );
        assert_close(
            cm.f1_macro(),
            num(&case["f1_macro"]),
            EXACT,
            &format!("{name} f1 macro"),
        );
        assert_close(
            cm.f1_weighted(),
            num(&case["f1_weighted"]),
            EXACT,
            &format!("{name} f1 weighted"),
        );
        assert_close(cm.mcc(), num(&case["mcc"]), EXACT, &format!("{name} mcc"));
        let f1: Vec<f64> = (0..k).map(|c| cm.f1(c)).collect();
        let precision: Vec<f64> = (0..k).map(|c| cm.precision(c)).collect();
        let recall: Vec<f64> = (0..k).map(|c| cm.sensitivity(c)).collect();
        assert_all_close(
            &f1,
            &f64s(&case["f1_per_class"]),
            EXACT,
            &format!("{name} f1 per class"),
        );
        assert_all_close(
            &precision,
            &f64s(&case["precision_per_class"]),
            EXACT,
            &format!("{name} precision"),
        );
        assert_all_close(
            &recall,
            &f64s(&case["recall_per_class"]),
            EXACT,
            &format!("{name} recall"),
        );
        match case.get("kappa") {
            Some(kappa) => assert_close(
                cm.cohen_kappa(),
                num(kappa),
                EXACT,
                &format!("{name} kappa"),
            ),
            None => assert!(cm.cohen_kappa().is_nan(), "{name}: kappa undefined"),
        }
    }
    eprintln!(
        "checked {} confusion-matrix cases against scikit-learn",
        cases.len()
    );
}
