//! Learning-rate schedules as pure functions of the position in a phase, so a resumed run
//! continues on exactly the same curve without stored scheduler state.

use crate::config::ScheduleConfig;

/// The learning rate for optimizer step `step` (0-based) of a phase with `total_steps` steps,
/// `steps_per_epoch` steps per epoch and peak rate `base_lr`.
pub fn learning_rate(
    schedule: &ScheduleConfig,
    base_lr: f64,
    step: usize,
    steps_per_epoch: usize,
    total_steps: usize,
) -> f64 {
    let steps_per_epoch = steps_per_epoch.max(1);
    let warmup_epochs = match schedule {
        ScheduleConfig::Constant { warmup_epochs }
        | ScheduleConfig::Cosine { warmup_epochs }
        | ScheduleConfig::Step { warmup_epochs, .. } => *warmup_epochs,
    };
    let warmup_steps = (warmup_epochs * steps_per_epoch).min(total_steps);
    if step < warmup_steps {
        // Linear warm-up ending at base_lr on the first step after warm-up.
        return base_lr * (step + 1) as f64 / (warmup_steps + 1) as f64;
    }
    match schedule {
        ScheduleConfig::Constant { .. } => base_lr,
        ScheduleConfig::Cosine { .. } => {
            let span = total_steps.saturating_sub(warmup_steps).max(1) as f64;
            let progress = (step - warmup_steps) as f64 / span;
            0.5 * base_lr * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
        }
        ScheduleConfig::Step {
            step_epochs, gamma, ..
        } => {
            let epoch = (step - warmup_steps) / steps_per_epoch;
            base_lr * gamma.powi((epoch / (*step_epochs).max(1)) as i32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_starts_at_base_and_decays_to_zero() {
        let s = ScheduleConfig::Cosine { warmup_epochs: 0 };
        assert!((learning_rate(&s, 1e-3, 0, 10, 100) - 1e-3).abs() < 1e-15);
        assert!((learning_rate(&s, 1e-3, 50, 10, 100) - 0.5e-3).abs() < 1e-12);
        assert!(learning_rate(&s, 1e-3, 99, 10, 100) < 1e-5);
    }

    #[test]
    fn warmup_rises_linearly_then_follows_schedule() {
        let s = ScheduleConfig::Constant { warmup_epochs: 1 };
        let first = learning_rate(&s, 1.0, 0, 4, 40);
        let last_warm = learning_rate(&s, 1.0, 3, 4, 40);
        assert!((first - 0.2).abs() < 1e-12);
        assert!((last_warm - 0.8).abs() < 1e-12);
        assert_eq!(learning_rate(&s, 1.0, 4, 4, 40), 1.0);
    }

    #[test]
    fn step_schedule_multiplies_by_gamma() {
        let s = ScheduleConfig::Step {
            step_epochs: 2,
            gamma: 0.5,
            warmup_epochs: 0,
        };
        assert_eq!(learning_rate(&s, 1.0, 0, 10, 100), 1.0);
        assert_eq!(learning_rate(&s, 1.0, 19, 10, 100), 1.0);
        assert_eq!(learning_rate(&s, 1.0, 20, 10, 100), 0.5);
        assert_eq!(learning_rate(&s, 1.0, 45, 10, 100), 0.25);
    }
}
