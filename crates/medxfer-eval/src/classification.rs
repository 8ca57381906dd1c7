//! The classification metric set derived from one confusion matrix, with class names, ready to
//! serialise or print.

use crate::confusion::ConfusionMatrix;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassMetrics {
    pub class: String,
    pub support: u64,
    pub sensitivity: f64,
    pub specificity: f64,
    pub precision: f64,
    pub npv: f64,
    pub f1: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassificationMetrics {
    pub n: u64,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub f1_macro: f64,
    pub f1_weighted: f64,
    pub mcc: f64,
    /// NaN (null in JSON) when undefined.
    pub cohen_kappa: f64,
    pub per_class: Vec<ClassMetrics>,
    /// Rows = true class, columns = predicted class, in `per_class` order.
    pub confusion_matrix: Vec<Vec<u64>>,
}

impl ClassificationMetrics {
    /// `class_names` labels the matrix's classes (missing names become the class index).
    pub fn from_confusion(cm: &ConfusionMatrix, class_names: &[String]) -> Self {
        let per_class = (0..cm.n_classes())
            .map(|c| ClassMetrics {
                class: class_names.get(c).cloned().unwrap_or_else(|| c.to_string()),
                support: cm.support(c),
                sensitivity: cm.sensitivity(c),
                specificity: cm.specificity(c),
                precision: cm.precision(c),
                npv: cm.npv(c),
                f1: cm.f1(c),
            })
            .collect();
        ClassificationMetrics {
            n: cm.total(),
            accuracy: cm.accuracy(),
            balanced_accuracy: cm.balanced_accuracy(),
            f1_macro: cm.f1_macro(),
            f1_weighted: cm.f1_weighted(),
            mcc: cm.mcc(),
            cohen_kappa: cm.cohen_kappa(),
            per_class,
            confusion_matrix: cm.rows(),
        }
    }
}
