//! medxfer-baseline against scikit-learn (StandardScaler + model pipelines) on the small
//! synthetic data sets of `fixtures/make_fixtures.py`: logistic regression (L2, elastic net,
//! multinomial) coefficients and probabilities, k-NN probabilities, and SVC decision values
//! (linear and RBF kernels), each within the tolerance stated beside it.

use medxfer_baseline::logistic::Logistic;
use medxfer_baseline::standardise::Standardiser;
use medxfer_baseline::{
    FittedModel, Hyperparams, Kernel, KnnParams, LogisticParams, Matrix, SvmParams, fit,
};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sklearn_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(value: &Value) -> Matrix {
    let rows: Vec<Vec<f64>> = serde_json::from_value(value.clone()).unwrap();
    let cols = rows[0].len();
    Matrix::new(rows.len(), cols, rows.concat()).unwrap()
}

fn floats(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

fn labels(value: &Value) -> Vec<usize> {
    serde_json::from_value(value.clone()).unwrap()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= tolerance,
        "{what}: largest difference {worst:e} > {tolerance:e}\n got {got:?}\nwant {want:?}"
    );
}

/// Fit logistic regression directly on the standardised rows to read its coefficients.
fn logistic_fit(set: &Value, case: &str, n_classes: usize) -> (Logistic, Matrix) {
    let x = matrix(&set["x_train"]);
    let standardiser = Standardiser::fit(&x);
    let reference = &set[case];
    let params = LogisticParams {
        tol: 1e-11,
        max_iter: 2_000_000,
        ..LogisticParams::new(
            reference["c"].as_f64().unwrap(),
            reference["l1_ratio"].as_f64().unwrap(),
        )
    };
    let model = Logistic::fit(
        &params,
        &standardiser.transform(&x),
        &labels(&set["y_train"]),
        n_classes,
        None,
    )
    .unwrap();
    assert!(model.converged, "{case}: {} iterations", model.iterations);
    (model, standardiser.transform(&matrix(&set["x_test"])))
}

fn check_logistic(set: &Value, case: &str, n_classes: usize, tolerance: f64) {
    let (model, test) = logistic_fit(set, case, n_classes);
    let reference = &set[case];
    let outputs = if n_classes == 2 { 1 } else { n_classes };
    let coef: Vec<f64> = (0..outputs)
        .flat_map(|k| model.coefficients(k).to_vec())
        .collect();
    let intercept: Vec<f64> = (0..outputs).map(|k| model.intercept(k)).collect();
    assert_close(
        &format!("{case} coef"),
        &coef,
        &floats(&reference["coef"]),
        tolerance,
    );
    assert_close(
        &format!("{case} intercept"),
        &intercept,
        &floats(&reference["intercept"]),
        tolerance,
    );
    assert_close(
        &format!("{case} proba"),
        &model.predict_proba(&test),
        &floats(&reference["proba"]),
        tolerance,
    );
}

#[test]
fn l2_logistic_regression_matches_lbfgs_within_1e_6() {
    check_logistic(&reference()["binary"], "logistic_l2", 2, 1e-6);
}

#[test]
fn multinomial_logistic_regression_matches_lbfgs_within_1e_6() {
    check_logistic(&reference()["three_class"], "logistic_l2", 3, 1e-6);
}

#[test]
fn elastic_net_logistic_regression_matches_saga_within_1e_5() {
    // saga's stopping rule is on the coefficient change, looser than lbfgs's gradient rule.
    check_logistic(&reference()["binary"], "elastic_net", 2, 1e-5);
}

#[test]
fn knn_probabilities_equal_scikit_learn() {
    let all = reference();
    for (set, n_classes) in [(&all["binary"], 2), (&all["three_class"], 3)] {
        let k = set["knn"]["k"].as_u64().unwrap() as usize;
        let model = fit(
            &Hyperparams::Knn(KnnParams { k }),
            &matrix(&set["x_train"]),
            &labels(&set["y_train"]),
            n_classes,
        )
        .unwrap();
        // Fractions of k: exact up to the division.
        assert_close(
            "knn proba",
            &model.predict_proba(&matrix(&set["x_test"])).unwrap(),
            &floats(&set["knn"]["proba"]),
            1e-12,
        );
    }
}

fn check_svc(case: &str, kernel: Kernel) {
    let set = &reference()["binary"];
    let reference = &set[case];
    let params = SvmParams {
        tol: 1e-10,
        ..SvmParams::new(reference["c"].as_f64().unwrap(), kernel)
    };
    let model = fit(
        &Hyperparams::Svm(params),
        &matrix(&set["x_train"]),
        &labels(&set["y_train"]),
        2,
    )
    .unwrap();
    let FittedModel::Svm { model: svm, .. } = &model else {
        panic!("not an SVM")
    };
    let machine = &svm.machines()[0];
    assert!(machine.converged);
    assert_eq!(
        machine.support_vectors() as u64,
        reference["n_support"].as_u64().unwrap(),
        "{case}: support vectors"
    );
    let scores = model.ranking_scores(&matrix(&set["x_test"]));
    let decision: Vec<f64> = scores.chunks(2).map(|row| row[1]).collect();
    assert_close(
        &format!("{case} decision"),
        &decision,
        &floats(&reference["decision"]),
        1e-6,
    );
}

#[test]
fn linear_svc_decision_values_match_libsvm_within_1e_6() {
    check_svc("svc_linear", Kernel::Linear);
}

#[test]
fn rbf_svc_decision_values_match_libsvm_within_1e_6() {
    check_svc("svc_rbf", Kernel::Rbf { gamma: 0.3 });
}
