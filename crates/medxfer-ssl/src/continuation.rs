//! Continuing a shorter pretraining run into a new, longer one (`medxfer pretrain
//! --continue-from DIR`): the new run starts from DIR's last checkpoint instead of from
//! scratch, and DIR is left as it is.
//!
//! This is only offered where the result equals an uninterrupted run of the longer schedule:
//! the two configurations may differ in `train.epochs` and `out_dir` alone, and the learning
//! rate at every step must not depend on the total number of epochs (constant and step
//! schedules; not cosine). Views, shuffles and step seeds are already functions of the epoch
//! and batch index, and no method reads the epoch count.

use std::path::Path;

use crate::SslError;
use crate::config::PretrainConfig;
use medxfer_train::config::ScheduleConfig;

/// Why `source` (recorded in `source_dir`, `epochs_done` epochs trained) cannot be continued
/// into `target`, or `Ok` when it can.
pub fn check_continuable(
    source: &PretrainConfig,
    source_dir: &Path,
    epochs_done: usize,
    target: &PretrainConfig,
) -> Result<(), SslError> {
    let fail = |message: String| SslError::Config {
        path: source_dir.to_path_buf(),
        message,
    };
    let mut aligned = source.clone();
    aligned.out_dir = target.out_dir.clone();
    aligned.train.epochs = target.train.epochs;
    if &aligned != target {
        let differing = differing_keys(&aligned, target);
        return Err(fail(format!(
            "cannot continue this run: its configuration differs from the new one in {} (only train.epochs and out_dir may differ)",
            differing.join(", ")
        )));
    }
    let warmup_epochs = match target.train.schedule {
        ScheduleConfig::Cosine { .. } => {
            return Err(fail(
                "cannot continue this run: a cosine schedule's rate at every step depends on train.epochs, so the continued run would not equal a run of the longer schedule; start a new run".into(),
            ));
        }
        ScheduleConfig::Constant { warmup_epochs } | ScheduleConfig::Step { warmup_epochs, .. } => {
            warmup_epochs
        }
    };
    if warmup_epochs > source.train.epochs {
        return Err(fail(format!(
            "cannot continue this run: its {}-epoch schedule cut the {warmup_epochs}-epoch warm-up short",
            source.train.epochs
        )));
    }
    if epochs_done == 0 {
        return Err(fail(
            "cannot continue this run: it has no finished epoch".into(),
        ));
    }
    if epochs_done >= target.train.epochs {
        return Err(fail(format!(
            "nothing to continue: this run already has {epochs_done} epochs and the new one asks for train.epochs = {}",
            target.train.epochs
        )));
    }
    Ok(())
}

/// The dotted keys whose values differ between two configurations, e.g. `train.lr`.
fn differing_keys(a: &PretrainConfig, b: &PretrainConfig) -> Vec<String> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return vec!["(unserialisable configuration)".into()];
    };
    let mut keys = Vec::new();
    collect_differences(&a, &b, String::new(), &mut keys);
    keys
}

fn collect_differences(
    a: &serde_json::Value,
    b: &serde_json::Value,
    prefix: String,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut names: Vec<&String> = x.keys().chain(y.keys()).collect();
            names.sort();
            names.dedup();
            for name in names {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                match (x.get(name), y.get(name)) {
                    (Some(p), Some(q)) => collect_differences(p, q, key, out),
                    _ => out.push(key),
                }
            }
        }
        _ if a != b => out.push(if prefix.is_empty() {
            "(the whole configuration)".into()
        } else {
            prefix
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra_train: &str) -> PretrainConfig {
        PretrainConfig::from_toml_str(
            &format!(
                r#"
out_dir = "runs/a"
method = {{ kind = "simclr" }}
[[sources]]
name = "toy"
source = {{ kind = "folder", root = "data" }}
[train]
epochs = 30
lr = 1e-3
{extra_train}
"#
            ),
            &[],
        )
        .unwrap()
    }

    fn longer(mut c: PretrainConfig, epochs: usize) -> PretrainConfig {
        c.train.epochs = epochs;
        c.out_dir = "runs/b".into();
        c
    }

    #[test]
    fn a_constant_or_step_schedule_continues_into_more_epochs() {
        let dir = Path::new("runs/a");
        let source = config("");
        check_continuable(&source, dir, 30, &longer(source.clone(), 60)).unwrap();
        let step = config(r#"schedule = { kind = "step", step_epochs = 10, gamma = 0.5 }"#);
        check_continuable(&step, dir, 30, &longer(step.clone(), 60)).unwrap();
        // A killed source continues from wherever it stopped.
        check_continuable(&source, dir, 12, &longer(source.clone(), 60)).unwrap();
    }

    #[test]
    fn other_differences_are_named_and_refused() {
        let dir = Path::new("runs/a");
        let source = config("");
        let mut target = longer(source.clone(), 60);
        target.train.lr = 2e-3;
        target.seed += 1;
        let err = check_continuable(&source, dir, 30, &target)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("runs/a") && err.contains("seed, train.lr") && !err.contains("epochs,"),
            "{err}"
        );
    }

    #[test]
    fn schedules_that_depend_on_the_total_are_refused() {
        let dir = Path::new("runs/a");
        let cosine = config(r#"schedule = { kind = "cosine" }"#);
        let err = check_continuable(&cosine, dir, 30, &longer(cosine.clone(), 60))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cosine"), "{err}");

        let mut short_warmup = config(r#"schedule = { kind = "constant", warmup_epochs = 40 }"#);
        short_warmup.train.epochs = 30;
        let err = check_continuable(&short_warmup, dir, 30, &longer(short_warmup.clone(), 60))
            .unwrap_err()
            .to_string();
        assert!(err.contains("warm-up"), "{err}");
    }

    #[test]
    fn there_must_be_something_to_continue_from_and_to() {
        let dir = Path::new("runs/a");
        let source = config("");
        let err = check_continuable(&source, dir, 30, &longer(source.clone(), 30))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing to continue"), "{err}");
        let err = check_continuable(&source, dir, 0, &longer(source.clone(), 60))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no finished epoch"), "{err}");
    }
}
