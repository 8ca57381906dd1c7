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
    pub name: &'static str,
    pub epochs: usize,
    pub lr: f64,
    pub trainable: Trainable,
    /// A frozen backbone computes the same features every epoch, so compute them once and
    /// train the head on the cache (no augmentation in such a phase).
    pub on_cached_features: bool,
}

pub fn phases(strategy: &Strategy, epochs: usize, lr: f64) -> Vec<Phase> {
    let main = |name, trainable| Phase {
        name,
        epochs,
        lr,
        trainable,
        on_cached_features: false,
    };
    match strategy {
        Strategy::Scratch => vec![main("scratch", Trainable::All)],
        Strategy::Full => vec![main("full", Trainable::All)],
        Strategy::Partial { stages } => vec![main("partial", Trainable::LastStages(*stages))],
        Strategy::LinearProbe => vec![Phase {
            name: "linear_probe",
            epochs,
            lr,
            trainable: Trainable::HeadOnly,
            on_cached_features: true,
        }],
        Strategy::TwoPhase {
            head_epochs,
            head_lr,
        } => {
            let mut out = vec![Phase {
                name: "head",
                epochs: *head_epochs,
                lr: *head_lr,
                trainable: Trainable::HeadOnly,
                on_cached_features: true,
            }];
            if epochs > 0 {
                out.push(main("unfrozen", Trainable::All));
            }
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
        let p = phases(&Strategy::Partial { stages: 2 }, 3, 1e-3);
        assert_eq!(p[0].trainable, Trainable::LastStages(2));
    }
}
