//! `report::evaluate_run` on small run folders: the numbers agree with the metric functions,
//! metrics.json is written, bad folders give clear errors.

use medxfer_eval::auc::roc_auc;
use medxfer_eval::calibration::{apply_temperature, brier_score, expected_calibration_error};
use medxfer_eval::confusion::ConfusionMatrix;
use medxfer_eval::delong::delong_ci;
use medxfer_eval::predictions::{PredictionRow, Predictions, Split, TaskInfo, TaskKind};
use medxfer_eval::report::{
    METRICS_FILE, PREDICTIONS_FILE, PooledOver, RunMetrics, TASK_FILE, compute_run_metrics,
    evaluate_run,
};

fn row(id: usize, fold: usize, split: Split, label: &str, p_malignant: f64) -> PredictionRow {
    PredictionRow {
        image_id: format!("img{id}"),
        fold,
        split,
        label: label.into(),
        source: None,
        center: None,
        scores: vec![1.0 - p_malignant, p_malignant],
    }
}

/// The test rows of `predictions`, with their malignant flags and malignant scores.
fn malignant_test_rows(predictions: &Predictions) -> (Vec<&PredictionRow>, Vec<bool>, Vec<f64>) {
    let test: Vec<&PredictionRow> = predictions
        .rows
        .iter()
        .filter(|r| r.split == Split::Test)
        .collect();
    let flags = test.iter().map(|r| r.label == "malignant").collect();
    let scores = test.iter().map(|r| r.scores[1]).collect();
    (test, flags, scores)
}

fn binary_run() -> (Predictions, TaskInfo) {
    let mut rows = Vec::new();
    for i in 0..40 {
        let malignant = i % 3 == 0;
        let p = ((i * 7) % 10) as f64 / 10.0 * 0.6 + if malignant { 0.35 } else { 0.0 };
        rows.push(row(
            i,
            i % 2,
            Split::Test,
            if malignant { "malignant" } else { "benign" },
            p,
        ));
        rows.push(row(i, i % 2, Split::Train, "benign", 0.99));
    }
    let names = vec!["benign".to_string(), "malignant".to_string()];
    (
        Predictions {
            class_names: names.clone(),
            rows,
        },
        TaskInfo {
            class_names: names,
            positive_class: Some("malignant".into()),
            task: TaskKind::Classification,
        },
    )
}

#[test]
fn binary_run_metrics_agree_with_the_metric_functions() {
    let dir = tempfile::tempdir().unwrap();
    let (predictions, task) = binary_run();
    predictions
        .write_csv(&dir.path().join(PREDICTIONS_FILE))
        .unwrap();
    task.write_json(&dir.path().join(TASK_FILE)).unwrap();
    let metrics = evaluate_run(dir.path()).unwrap();
    assert_eq!(metrics.folds.len(), 2);
    let (test, flags, scores) = malignant_test_rows(&predictions);
    let ci = delong_ci(&flags, &scores, 0.95).unwrap();
    assert_eq!(metrics.pooled.auc, Some(ci.auc));
    assert_eq!(metrics.pooled.auc_ci.as_ref().unwrap().low, ci.ci_low);
    let fold0: Vec<usize> = (0..test.len()).filter(|&i| test[i].fold == 0).collect();
    let auc0 = roc_auc(
        &fold0.iter().map(|&i| flags[i]).collect::<Vec<_>>(),
        &fold0.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(metrics.folds[0].auc, Some(auc0));
    let predicted: Vec<bool> = scores.iter().map(|&s| s >= 0.5).collect();
    let cm = ConfusionMatrix::from_binary(&flags, &predicted).unwrap();
    assert_eq!(metrics.pooled.classification.mcc, cm.mcc());
    let mean_auc = metrics.across_folds.auc.as_ref().unwrap();
    let aucs: Vec<f64> = metrics.folds.iter().map(|f| f.auc.unwrap()).collect();
    assert!((mean_auc.mean - (aucs[0] + aucs[1]) / 2.0).abs() < 1e-15);
    assert!((mean_auc.sd.unwrap() - (aucs[0] - aucs[1]).abs() / 2f64.sqrt()).abs() < 1e-15);
    let ba = metrics.pooled.balanced_accuracy_ci.as_ref().unwrap();
    assert!(ba.low <= cm.balanced_accuracy() && cm.balanced_accuracy() <= ba.high);
    let written: RunMetrics =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(METRICS_FILE)).unwrap())
            .unwrap();
    assert_eq!(written.pooled.auc, metrics.pooled.auc);
    let table = metrics.to_string();
    assert!(
        table.contains("pooled over 40 test rows") && table.contains("malignant"),
        "{table}"
    );
}

#[test]
fn three_classes_use_argmax_and_ovr_auc() {
    let names: Vec<String> = ["benign", "malignant", "normal"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows = (0..30)
        .map(|i| {
            let label = i % 3;
            let mut scores = [0.2, 0.2, 0.2];
            scores[label] += 0.1 + ((i * 5) % 7) as f64 / 20.0;
            scores[(label + 1) % 3] += ((i * 3) % 5) as f64 / 10.0;
            let sum: f64 = scores.iter().sum();
            PredictionRow {
                image_id: i.to_string(),
                fold: 0,
                split: Split::Test,
                label: names[label].clone(),
                source: None,
                center: None,
                scores: scores.iter().map(|s| s / sum).collect(),
            }
        })
        .collect();
    let predictions = Predictions {
        class_names: names.clone(),
        rows,
    };
    let task = TaskInfo {
        class_names: names,
        positive_class: None,
        task: TaskKind::Classification,
    };
    let m = compute_run_metrics(&predictions, &task).unwrap();
    assert!(m.positive_class.is_none());
    assert!(m.pooled.auc_ci.is_some() && m.across_folds.auc.as_ref().unwrap().sd.is_none());
    assert_eq!(m.pooled.classification.confusion_matrix.len(), 3);
}

#[test]
fn mismatched_classes_and_missing_test_rows_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut predictions, task) = binary_run();
    predictions
        .write_csv(&dir.path().join(PREDICTIONS_FILE))
        .unwrap();
    TaskInfo {
        class_names: vec!["a".into(), "b".into()],
        positive_class: None,
        task: TaskKind::Classification,
    }
    .write_json(&dir.path().join(TASK_FILE))
    .unwrap();
    let msg = evaluate_run(dir.path()).unwrap_err().to_string();
    assert!(
        msg.contains("predictions.csv") && msg.contains("task.json"),
        "{msg}"
    );
    predictions.rows.retain(|r| r.split != Split::Test);
    let msg = compute_run_metrics(&predictions, &task)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("split = test"), "{msg}");
    let msg = evaluate_run(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("task.json"), "{msg}");
}

/// An external validation: 3 fold models each score the same 30 images.
fn external_run() -> (Predictions, TaskInfo) {
    let (_, task) = binary_run();
    let mut rows = Vec::new();
    for model in 0..3 {
        for i in 0..30 {
            let malignant = i % 3 == 0;
            let p =
                ((i * 7 + model * 3) % 10) as f64 / 10.0 * 0.6 + if malignant { 0.3 } else { 0.0 };
            let label = if malignant { "malignant" } else { "benign" };
            rows.push(row(i, model, Split::Test, label, p));
        }
    }
    (
        Predictions {
            class_names: task.class_names.clone(),
            rows,
        },
        task,
    )
}

#[test]
fn an_external_validation_pools_the_fold_ensemble_not_every_model_row() {
    let (predictions, task) = external_run();
    let m = compute_run_metrics(&predictions, &task).unwrap();
    assert_eq!(m.pooled.over, PooledOver::FoldEnsemble { models: 3 });
    assert_eq!((m.pooled.n, m.folds.len()), (30, 3));
    let flags: Vec<bool> = (0..30).map(|i| i % 3 == 0).collect();
    let mean: Vec<f64> = (0..30)
        .map(|i| {
            let rows = predictions
                .rows
                .iter()
                .filter(|r| r.image_id == format!("img{i}"));
            rows.map(|r| r.scores[1]).sum::<f64>() / 3.0
        })
        .collect();
    let ci = delong_ci(&flags, &mean, 0.95).unwrap();
    assert!((m.pooled.auc.unwrap() - ci.auc).abs() < 1e-12);
    assert!((m.pooled.auc_ci.as_ref().unwrap().high - ci.ci_high).abs() < 1e-12);
    assert!(
        m.to_string()
            .contains("fold ensemble (mean probability of 3 models) on 30 images")
    );
}

#[test]
fn an_image_scored_by_only_some_fold_models_is_an_error() {
    let (mut predictions, task) = external_run();
    predictions
        .rows
        .retain(|r| !(r.image_id == "img4" && r.fold == 2));
    let message = compute_run_metrics(&predictions, &task)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("img4") && message.contains("{0, 1}"),
        "{message}"
    );
}

#[test]
fn binary_runs_report_brier_ece_and_reliability_of_the_positive_class() {
    let (predictions, task) = binary_run();
    let m = compute_run_metrics(&predictions, &task).unwrap();
    assert_eq!(m.pooled.over, PooledOver::OutOfFold);
    let (_, flags, scores) = malignant_test_rows(&predictions);
    let cal = m.pooled.calibration.as_ref().unwrap();
    assert_eq!(cal.brier, brier_score(&flags, &scores).unwrap());
    assert_eq!(
        cal.ece,
        expected_calibration_error(&flags, &scores, 10).unwrap()
    );
    assert_eq!(cal.reliability.iter().map(|b| b.count).sum::<usize>(), 40);
}

#[test]
fn temperatures_are_fitted_on_each_folds_validation_rows_and_applied_to_its_test_rows() {
    let (mut predictions, task) = binary_run();
    // Over-confident validation rows: the fitted temperatures must soften (T > 1).
    for i in 0..60 {
        let malignant = i % 2 == 0;
        let right = i % 5 != 0;
        let p = if malignant == right { 0.999 } else { 0.001 };
        let label = if malignant { "malignant" } else { "benign" };
        predictions
            .rows
            .push(row(100 + i, i % 2, Split::Val, label, p));
    }
    let m = compute_run_metrics(&predictions, &task).unwrap();
    let scaled = m.pooled.temperature_scaled.as_ref().unwrap();
    assert_eq!(scaled.temperatures.len(), 2);
    assert!(
        scaled
            .temperatures
            .iter()
            .all(|t| t.temperature > 1.0 && t.n_fit == 30)
    );
    let (test, flags, _) = malignant_test_rows(&predictions);
    let t_of = |fold: usize| {
        scaled
            .temperatures
            .iter()
            .find(|t| t.fold == fold)
            .unwrap()
            .temperature
    };
    let scores: Vec<f64> = test
        .iter()
        .map(|r| apply_temperature(&r.scores, t_of(r.fold))[1])
        .collect();
    assert_eq!(
        scaled.calibration.brier,
        brier_score(&flags, &scores).unwrap()
    );
    // Without validation rows nothing is fitted.
    let (plain, task) = binary_run();
    assert!(
        compute_run_metrics(&plain, &task)
            .unwrap()
            .pooled
            .temperature_scaled
            .is_none()
    );
}

#[test]
fn metrics_are_broken_down_per_source_and_per_centre() {
    let (mut predictions, task) = binary_run();
    for row in predictions.rows.iter_mut() {
        let id: usize = row.image_id.trim_start_matches("img").parse().unwrap();
        row.source = Some(if id < 20 { "busi" } else { "busbra" }.to_string());
        row.center = (id >= 20).then(|| format!("scanner {}", id % 2));
    }
    let dir = tempfile::tempdir().unwrap();
    predictions
        .write_csv(&dir.path().join(PREDICTIONS_FILE))
        .unwrap();
    task.write_json(&dir.path().join(TASK_FILE)).unwrap();
    let m = evaluate_run(dir.path()).unwrap();
    let sources: Vec<&str> = m
        .breakdown
        .per_source
        .iter()
        .map(|g| g.group.as_str())
        .collect();
    assert_eq!(sources, ["busbra", "busi"]);
    assert_eq!(m.breakdown.per_center.len(), 2);
    let busi: Vec<&PredictionRow> = predictions
        .rows
        .iter()
        .filter(|r| r.split == Split::Test && r.source.as_deref() == Some("busi"))
        .collect();
    let flags: Vec<bool> = busi.iter().map(|r| r.label == "malignant").collect();
    let scores: Vec<f64> = busi.iter().map(|r| r.scores[1]).collect();
    let group = &m.breakdown.per_source[1];
    assert_eq!(
        (group.n, group.auc),
        (20, Some(roc_auc(&flags, &scores).unwrap()))
    );
    assert_eq!(
        m.breakdown.per_center.iter().map(|g| g.n).sum::<usize>(),
        20,
        "rows without a centre are left out"
    );
    assert!(m.to_string().contains("per source"), "{m}");
}
