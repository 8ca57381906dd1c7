//! Texture matrices computed in 2-D (per slice, in-plane neighbours) and IBSI's ways of turning
//! the per-slice, per-direction matrices into one feature value.

pub mod glcm;
pub mod gldzm;
pub mod glrlm;
pub mod glszm;
pub mod ngldm;
pub mod ngtdm;

use serde::{Deserialize, Serialize};

use crate::discretise::GreyLevels;
use crate::error::RadiomicsError;
use crate::feature::{Family, Feature, named};
use crate::volume::RoiVolume;

/// IBSI feature aggregation for 2-D texture matrices. GLSZM, GLDZM, NGTDM and NGLDM have one matrix per
/// slice (no directions), so for them the two 2-D methods coincide (IBSI "2D", 8QNN), as do the
/// two 2.5-D ones ("2.5D", 62GR). A single 2-D image has one slice, so there the 2.5-D methods
/// equal their 2-D counterparts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Features of every directional matrix of every slice, averaged (GLCM/GLRLM: BTW3).
    Averaged2d,
    /// The directional matrices of a slice merged, features averaged over slices (SUJT).
    SliceMerged2d,
    /// Each direction's matrices merged over slices, features averaged over directions (JJUI).
    DirectionMerged25d,
    /// Every 2-D matrix merged into one (ZW7Z; GLSZM/NGTDM: 62GR).
    Merged25d,
}

/// The four in-plane direction vectors (x, y) IBSI uses in 2-D: 0, 45, 90 and 135 degrees.
pub(crate) const DIRECTIONS_2D: [(isize, isize); 4] = [(1, 0), (1, 1), (0, 1), (-1, 1)];

/// The eight in-plane neighbours (Chebyshev distance 1).
pub(crate) const NEIGHBOURS_2D: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// A texture matrix that can be merged with others of its kind (summing counts) and turned
/// into feature values; `features` is None when the matrix counts nothing.
pub(crate) trait TextureMatrix: Clone {
    fn merge(&mut self, other: &Self);
    fn features(&self) -> Option<Vec<f64>>;
}

/// Feature values from matrices indexed `[slice][direction]` under `aggregation`.
pub(crate) fn aggregate<M: TextureMatrix>(
    grid: &[Vec<M>],
    aggregation: Aggregation,
    family: &'static str,
) -> Result<Vec<f64>, RadiomicsError> {
    let directions = grid.first().map_or(0, Vec::len);
    let groups: Vec<Vec<&M>> = match aggregation {
        Aggregation::Averaged2d => grid.iter().flatten().map(|m| vec![m]).collect(),
        Aggregation::SliceMerged2d => grid.iter().map(|slice| slice.iter().collect()).collect(),
        Aggregation::DirectionMerged25d => (0..directions)
            .map(|d| grid.iter().map(|slice| &slice[d]).collect())
            .collect(),
        Aggregation::Merged25d => vec![grid.iter().flatten().collect()],
    };
    let per_group: Vec<Vec<f64>> = groups
        .iter()
        .filter_map(|group| {
            let (first, rest) = group.split_first()?;
            let mut merged = (*first).clone();
            for m in rest {
                merged.merge(m);
            }
            merged.features()
        })
        .collect();
    let Some(first) = per_group.first() else {
        return Err(RadiomicsError::TooSmall {
            family,
            reason: "no slice yields a non-empty matrix",
        });
    };
    let mut mean = vec![0.0; first.len()];
    for values in &per_group {
        for (m, v) in mean.iter_mut().zip(values) {
            *m += v / per_group.len() as f64;
        }
    }
    Ok(mean)
}

/// One texture family's named features: `matrices(slice, n_levels)` gives a slice's matrices
/// (one per direction, or a single one), aggregated as `aggregation` asks; `label` names the
/// family in errors.
pub(crate) fn family_features<M: TextureMatrix>(
    volume: &RoiVolume,
    levels: &GreyLevels,
    aggregation: Aggregation,
    (family, label, names): (Family, &'static str, &[(&'static str, &'static str)]),
    matrices: impl Fn(&Slice, usize) -> Vec<M>,
) -> Result<Vec<Feature>, RadiomicsError> {
    let grid: Vec<Vec<M>> = Slice::all(volume, levels)
        .iter()
        .map(|slice| matrices(slice, levels.n_levels as usize))
        .collect();
    let values = aggregate(&grid, aggregation, label)?;
    Ok(named(family, names, &values))
}

/// A slice's view of a discretised volume: grey level at in-plane (x, y), 0 outside the ROI or
/// the image.
pub(crate) struct Slice<'a> {
    volume: &'a RoiVolume,
    levels: &'a GreyLevels,
    z: usize,
}

impl<'a> Slice<'a> {
    /// The slices that hold ROI voxels, in z order.
    pub(crate) fn all(volume: &'a RoiVolume, levels: &'a GreyLevels) -> Vec<Slice<'a>> {
        let [nx, ny, nz] = volume.dims();
        (0..nz)
            .filter(|&z| (0..nx * ny).any(|i| volume.in_roi(i + z * nx * ny)))
            .map(|z| Slice { volume, levels, z })
            .collect()
    }

    pub(crate) fn width(&self) -> usize {
        self.volume.dims()[0]
    }

    pub(crate) fn height(&self) -> usize {
        self.volume.dims()[1]
    }

    pub(crate) fn level(&self, x: isize, y: isize) -> u32 {
        if x < 0 || y < 0 || x as usize >= self.width() || y as usize >= self.height() {
            return 0;
        }
        self.levels.levels[self.volume.index(x as usize, y as usize, self.z)]
    }

    pub(crate) fn roi_count(&self) -> usize {
        self.pixels().count()
    }

    /// Every zone (8-connected in-plane pixels of one grey level) once, by flood fill:
    /// `on_zone(level, pixels)` with the zone's pixel coordinates (GLSZM, GLDZM).
    pub(crate) fn for_each_zone(&self, mut on_zone: impl FnMut(u32, &[(isize, isize)])) {
        let w = self.width();
        let mut seen = vec![false; w * self.height()];
        let mut stack = Vec::new();
        let mut zone = Vec::new();
        for (x, y, level) in self.pixels() {
            let start = y as usize * w + x as usize;
            if seen[start] {
                continue;
            }
            seen[start] = true;
            stack.push((x, y));
            zone.clear();
            while let Some((cx, cy)) = stack.pop() {
                zone.push((cx, cy));
                for (dx, dy) in NEIGHBOURS_2D {
                    let (nx, ny) = (cx + dx, cy + dy);
                    if self.level(nx, ny) == level && !seen[ny as usize * w + nx as usize] {
                        seen[ny as usize * w + nx as usize] = true;
                        stack.push((nx, ny));
                    }
                }
            }
            on_zone(level, &zone);
        }
    }

    /// (x, y, level) of the slice's ROI pixels.
    pub(crate) fn pixels(&self) -> impl Iterator<Item = (isize, isize, u32)> + '_ {
        let (w, h) = (self.width() as isize, self.height() as isize);
        (0..h)
            .flat_map(move |y| (0..w).map(move |x| (x, y)))
            .filter_map(|(x, y)| {
                let level = self.level(x, y);
                (level > 0).then_some((x, y, level))
            })
    }
}

/// A grey-level-by-something count matrix (`rows` grey levels; columns grow as needed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Counts {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Counts {
    pub(crate) fn new(rows: usize, cols: usize) -> Counts {
        Counts {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Zero-based row and column.
    pub(crate) fn get(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.cols + col]
    }

    pub(crate) fn add(&mut self, row: usize, col: usize, count: f64) {
        if col >= self.cols {
            self.widen(col + 1);
        }
        self.data[row * self.cols + col] += count;
    }

    fn widen(&mut self, cols: usize) {
        let mut data = vec![0.0; self.rows * cols];
        for r in 0..self.rows {
            data[r * cols..r * cols + self.cols]
                .copy_from_slice(&self.data[r * self.cols..(r + 1) * self.cols]);
        }
        self.data = data;
        self.cols = cols;
    }

    pub(crate) fn merge(&mut self, other: &Counts) {
        if other.cols > self.cols {
            self.widen(other.cols);
        }
        for r in 0..other.rows {
            for c in 0..other.cols {
                self.data[r * self.cols + c] += other.get(r, c);
            }
        }
    }

    pub(crate) fn total(&self) -> f64 {
        self.data.iter().sum()
    }
}

/// `-p log2 p`, 0 for p = 0.
pub(crate) fn entropy_term(p: f64) -> f64 {
    if p > 0.0 { -p * p.log2() } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Sum(f64);

    impl TextureMatrix for Sum {
        fn merge(&mut self, other: &Self) {
            self.0 += other.0;
        }
        fn features(&self) -> Option<Vec<f64>> {
            (self.0 > 0.0).then(|| vec![self.0.sqrt()])
        }
    }

    #[test]
    fn aggregation_methods_group_slices_and_directions_as_ibsi_defines() {
        // Two slices, two directions.
        let grid = vec![vec![Sum(1.0), Sum(4.0)], vec![Sum(9.0), Sum(16.0)]];
        let run = |a| aggregate(&grid, a, "test").unwrap()[0];
        assert!((run(Aggregation::Averaged2d) - 2.5).abs() < 1e-12);
        assert!((run(Aggregation::SliceMerged2d) - (5f64.sqrt() + 5.0) / 2.0).abs() < 1e-12);
        assert!(
            (run(Aggregation::DirectionMerged25d) - (10f64.sqrt() + 20f64.sqrt()) / 2.0).abs()
                < 1e-12
        );
        assert!((run(Aggregation::Merged25d) - 30f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn empty_matrices_are_skipped_and_all_empty_is_an_error() {
        let grid = vec![vec![Sum(0.0), Sum(4.0)]];
        assert_eq!(
            aggregate(&grid, Aggregation::Averaged2d, "test").unwrap(),
            vec![2.0]
        );
        let empty = vec![vec![Sum(0.0)]];
        assert!(aggregate(&empty, Aggregation::Averaged2d, "test").is_err());
    }

    #[test]
    fn counts_widen_and_merge() {
        let mut a = Counts::new(2, 1);
        a.add(1, 0, 1.0);
        a.add(0, 2, 2.0);
        assert_eq!((a.cols(), a.get(1, 0), a.get(0, 2)), (3, 1.0, 2.0));
        let mut b = Counts::new(2, 4);
        b.add(1, 3, 5.0);
        a.merge(&b);
        assert_eq!((a.cols(), a.get(1, 3), a.total()), (4, 5.0, 8.0));
    }
}
