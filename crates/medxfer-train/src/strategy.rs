//! A transfer strategy unrolled into phases: which parameters learn, for how long, at what
//! rate, and whether the phase can run on cached backbone features.

use crate::config::Strategy;

/// Which part of the classifier receives gradients in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trainable {
    /// Backbone frozen (batch-norm statistics included); only the head learns.
    HeadOnly,
    /// The last `n` backbone stages and the head learn.
    LastStages(usize),
    /// Everything learns.
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// In progress lines, curves and checkpoints (`head`, `unfreeze_layer4`, `unfrozen`).
    pub name: String,
    pub epochs: usize,
    pub lr: f64,
    pub trainable: Trainable,
    /// A frozen backbone computes the same features every epoch, so compute them once and
    /// train the head on the cache (no augmentation in such a phase).
    pub on_cached_features: bool,
}

impl Phase {
    fn new(name: impl Into<String>, epochs: usize, lr: f64, trainable: Trainable) -> Self {
        Phase {
            name: name.into(),
            epochs,
            lr,
            trainable,
            on_cached_features: false,
        }
    }

    /// The head alone on cached backbone features.
    fn head(epochs: usize, lr: f64) -> Self {
        Phase {
            on_cached_features: true,
            ..Phase::new("head", epochs, lr, Trainable::HeadOnly)
        }
    }
}

/// The phases of `strategy` for a backbone whose stages (stem first) are `stage_names`
/// (the stages the model runs: a U-Net's encoder stops before EfficientNet's head conv).
pub fn phases(strategy: &Strategy, epochs: usize, lr: f64, stage_names: &[&str]) -> Vec<Phase> {
    match strategy {
        Strategy::Scratch => vec![Phase::new("scratch", epochs, lr, Trainable::All)],
        Strategy::Full => vec![Phase::new("full", epochs, lr, Trainable::All)],
        Strategy::Partial { stages } => {
            vec![Phase::new(
                "partial",
                epochs,
                lr,
                Trainable::LastStages(*stages),
            )]
        }
        Strategy::LinearProbe => vec![Phase {
            name: "linear_probe".into(),
            ..Phase::head(epochs, lr)
        }],
        Strategy::TwoPhase {
            head_epochs,
            head_lr,
        } => {
            let mut out = vec![Phase::head(*head_epochs, *head_lr)];
            if epochs > 0 {
                out.push(Phase::new("unfrozen", epochs, lr, Trainable::All));
            }
            out
        }
        Strategy::GradualUnfreezing {
            head_epochs,
            head_lr,
            epochs_per_stage,
        } => {
            // ULMFiT's schedule (Howard & Ruder 2018): after the head, one more stage from the
            // top every `epochs_per_stage` epochs, then everything for `epochs`.
            let mut out = vec![Phase::head(*head_epochs, *head_lr)];
            let stages = stage_names.len();
            for unfrozen in 1..stages {
                let newest = stage_names[stages - unfrozen];
                out.push(Phase::new(
                    format!("unfreeze_{newest}"),
                    *epochs_per_stage,
                    lr,
                    Trainable::LastStages(unfrozen),
                ));
            }
            out.push(Phase::new("unfrozen", epochs, lr, Trainable::All));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_phase_trains_head_on_cache_then_everything() {
        let p = phases(
            &Strategy::TwoPhase {
                head_epochs: 5,
                head_lr: 1e-3,
            },
            15,
            1e-4,
            &["stem", "layer1"],
        );
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].epochs, p[0].trainable, p[0].on_cached_features),
            (5, Trainable::HeadOnly, true)
        );
        assert_eq!(
            (p[1].epochs, p[1].trainable, p[1].on_cached_features),
            (15, Trainable::All, false)
        );
        assert_eq!(p[1].lr, 1e-4);
    }

    #[test]
    fn partial_keeps_the_requested_stages() {
        let p = phases(
            &Strategy::Partial { stages: 2 },
            3,
            1e-3,
            &["stem", "a", "b"],
        );
        assert_eq!(p[0].trainable, Trainable::LastStages(2));
    }

    #[test]
    fn gradual_unfreezing_adds_one_stage_from_the_top_per_phase() {
        let p = phases(
            &Strategy::GradualUnfreezing {
                head_epochs: 2,
                head_lr: 1e-3,
                epochs_per_stage: 3,
            },
            4,
            1e-4,
            &["stem", "layer1", "layer2"],
        );
        let summary: Vec<(&str, usize, Trainable, bool)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.epochs, p.trainable, p.on_cached_features))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("head", 2, Trainable::HeadOnly, true),
                ("unfreeze_layer2", 3, Trainable::LastStages(1), false),
                ("unfreeze_layer1", 3, Trainable::LastStages(2), false),
                ("unfrozen", 4, Trainable::All, false),
            ]
        );
        assert_eq!(p[0].lr, 1e-3);
        assert!(p[1..].iter().all(|p| p.lr == 1e-4));
    }
}
