//! Per-epoch pretraining curves: `curves.csv` and `curves.png` (training and validation loss;
//! spread of the normalised projections, with the collapse threshold).

use std::path::Path;

use crate::SslError;
use crate::error::write_atomic;
use crate::plot::{Area, Canvas, PALETTE, Series, line_chart};

/// One epoch as the curves show it (from the engine's curve row, with the collapse verdict).
#[derive(Debug, Clone, PartialEq)]
pub struct SslCurveRow {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    /// NaN when the pool has too few validation images for a batch.
    pub val_loss: f64,
    /// Mean spread of the epoch's normalised training projections (1 isotropic, 0 collapsed).
    pub spread: f64,
    pub collapsed: bool,
    pub seconds: f64,
}

pub fn write_curves(
    dir: &Path,
    rows: &[SslCurveRow],
    collapse_threshold: f64,
    method: &str,
) -> Result<(), SslError> {
    let mut csv = String::from("epoch,lr,train_loss,val_loss,spread,collapsed,seconds\n");
    for r in rows {
        csv.push_str(&format!(
            "{},{:e},{:.6},{:.6},{:.6},{},{:.2}\n",
            r.epoch, r.lr, r.train_loss, r.val_loss, r.spread, r.collapsed, r.seconds
        ));
    }
    write_atomic(&dir.join("curves.csv"), csv.as_bytes())?;

    let mut canvas = Canvas::new(900, 620);
    let points = |f: fn(&SslCurveRow) -> f64| {
        rows.iter()
            .map(|r| (r.epoch as f64, f(r)))
            .collect::<Vec<_>>()
    };
    line_chart(
        &mut canvas,
        Area {
            x: 0.0,
            y: 0.0,
            width: 900.0,
            height: 400.0,
        },
        &format!("{method} pretraining loss per epoch"),
        &[
            Series {
                label: "train".into(),
                color: PALETTE[0],
                points: points(|r| r.train_loss),
            },
            Series {
                label: "validation".into(),
                color: PALETTE[1],
                points: points(|r| r.val_loss),
            },
        ],
    );
    line_chart(
        &mut canvas,
        Area {
            x: 0.0,
            y: 400.0,
            width: 900.0,
            height: 220.0,
        },
        "spread of normalised projections (collapse below the threshold)",
        &[
            Series {
                label: "spread".into(),
                color: PALETTE[2],
                points: points(|r| r.spread),
            },
            Series {
                label: "threshold".into(),
                color: PALETTE[3],
                points: rows
                    .iter()
                    .map(|r| (r.epoch as f64, collapse_threshold))
                    .collect(),
            },
        ],
    );
    Ok(canvas.save_png(&dir.join("curves.png"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_csv_row_per_epoch_and_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<SslCurveRow> = (1..=3)
            .map(|e| SslCurveRow {
                epoch: e,
                lr: 0.014,
                train_loss: 5.0 - e as f64,
                val_loss: 5.5 - e as f64,
                spread: 0.5,
                collapsed: false,
                seconds: 1.0,
            })
            .collect();
        write_curves(dir.path(), &rows, 0.05, "simclr").unwrap();
        let csv = std::fs::read_to_string(dir.path().join("curves.csv")).unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("1,1.4e-2,4.000000,4.500000")
        );
        assert!(dir.path().join("curves.png").metadata().unwrap().len() > 1000);
    }
}
