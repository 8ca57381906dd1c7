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

impl std::fmt::Display for ClassificationMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "n {}   accuracy {:.4}   balanced accuracy {:.4}",
            self.n, self.accuracy, self.balanced_accuracy
        )?;
        let kappa = if self.cohen_kappa.is_finite() {
            format!("{:.4}", self.cohen_kappa)
        } else {
            "undefined".into()
        };
        writeln!(
            f,
            "F1 macro {:.4}   F1 weighted {:.4}   MCC {:.4}   Cohen's kappa {kappa}",
            self.f1_macro, self.f1_weighted, self.mcc
        )?;
        writeln!(
            f,
            "{:<16} {:>7} {:>11} {:>11} {:>9} {:>7} {:>7}",
            "class", "support", "sensitivity", "specificity", "precision", "NPV", "F1"
        )?;
        for m in &self.per_class {
            writeln!(
                f,
                "{:<16} {:>7} {:>11.4} {:>11.4} {:>9.4} {:>7.4} {:>7.4}",
                m.class, m.support, m.sensitivity, m.specificity, m.precision, m.npv, m.f1
            )?;
        }
        writeln!(f, "confusion matrix (rows = truth, columns = predicted):")?;
        let width = self
            .per_class
            .iter()
            .map(|m| m.class.len())
            .max()
            .unwrap_or(1)
            .max(6);
        write!(f, "{:<width$}", "")?;
        for m in &self.per_class {
            write!(f, " {:>width$}", m.class)?;
        }
        writeln!(f)?;
        for (m, row) in self.per_class.iter().zip(&self.confusion_matrix) {
            write!(f, "{:<width$}", m.class)?;
            for v in row {
                write!(f, " {v:>width$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
