//! Grey level distance zone matrix features (IBSI family VMDZ): the 8-connected in-plane zones
//! of the GLSZM, each counted at its distance to the ROI edge (the smallest over its pixels; a
//! pixel's distance is 1 plus the number of 4-connected erosions it survives).

use std::collections::VecDeque;

use super::glrlm::LengthMatrix;
use super::{Aggregation, Counts, Slice, family_features};
use crate::discretise::GreyLevels;
use crate::error::RadiomicsError;
use crate::feature::{Family, Feature};
use crate::volume::RoiVolume;

pub(crate) const NAMES: [(&str, &str); 16] = [
    ("small distance emphasis", "0GBI"),
    ("large distance emphasis", "MB4I"),
    ("low grey level zone emphasis", "S1RA"),
    ("high grey level zone emphasis", "K26C"),
    ("small distance low grey level emphasis", "RUVG"),
    ("small distance high grey level emphasis", "DKNJ"),
    ("large distance low grey level emphasis", "A7WM"),
    ("large distance high grey level emphasis", "KLTH"),
    ("grey level non-uniformity", "VFT7"),
    ("normalised grey level non-uniformity", "7HP3"),
    ("zone distance non-uniformity", "V294"),
    ("normalised zone distance non-uniformity", "IATH"),
    ("zone percentage", "VIWW"),
    ("grey level variance", "QK93"),
    ("zone distance variance", "7WT1"),
    ("zone distance entropy", "GBDU"),
];

const CROSS: [(isize, isize); 4] = [(1, 0), (-1, 0), (0, 1), (0, -1)];

pub fn features(
    volume: &RoiVolume,
    levels: &GreyLevels,
    aggregation: Aggregation,
) -> Result<Vec<Feature>, RadiomicsError> {
    family_features(
        volume,
        levels,
        aggregation,
        (Family::Gldzm, "GLDZM", &NAMES),
        |slice, n_levels| vec![distance_zones(slice, n_levels)],
    )
}

/// Distance of each ROI pixel to the ROI edge (1 on the edge; pixels outside the image count
/// as outside the ROI), by breadth-first search over 4-connected ROI pixels; 0 outside.
fn edge_distances(slice: &Slice) -> Vec<usize> {
    let w = slice.width();
    let mut distance = vec![0; w * slice.height()];
    let mut queue = VecDeque::new();
    for (x, y, _) in slice.pixels() {
        if CROSS
            .iter()
            .any(|(dx, dy)| slice.level(x + dx, y + dy) == 0)
        {
            distance[y as usize * w + x as usize] = 1;
            queue.push_back((x, y));
        }
    }
    while let Some((x, y)) = queue.pop_front() {
        let next = distance[y as usize * w + x as usize] + 1;
        for (dx, dy) in CROSS {
            let (nx, ny) = (x + dx, y + dy);
            if slice.level(nx, ny) > 0 && distance[ny as usize * w + nx as usize] == 0 {
                distance[ny as usize * w + nx as usize] = next;
                queue.push_back((nx, ny));
            }
        }
    }
    distance
}

/// One count per zone at (its grey level, its distance: the smallest over its pixels).
fn distance_zones(slice: &Slice, n_levels: usize) -> LengthMatrix {
    let w = slice.width();
    let distance = edge_distances(slice);
    let mut counts = Counts::new(n_levels, 1);
    slice.for_each_zone(|level, zone| {
        let nearest = zone
            .iter()
            .map(|&(x, y)| distance[y as usize * w + x as usize])
            .min()
            .unwrap_or(1);
        counts.add(level as usize - 1, nearest - 1, 1.0);
    });
    LengthMatrix {
        counts,
        n_voxels: slice.roi_count() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::{Discretisation, discretise};

    #[test]
    fn distances_grow_inward_and_zones_take_their_nearest_pixel() {
        // A 5 x 5 ROI of level 1 with a level-2 pixel at its centre.
        let mut values = vec![1.0; 25];
        values[12] = 2.0;
        let volume = RoiVolume::image_2d(5, 5, [1.0, 1.0], values, vec![true; 25]).unwrap();
        let levels = discretise(
            &volume,
            &Discretisation::FixedBinSize {
                width: 1.0,
                lower_bound: 0.5,
            },
        )
        .unwrap();
        let slice = &Slice::all(&volume, &levels)[0];
        let d = edge_distances(slice);
        assert_eq!((d[0], d[6], d[12]), (1, 2, 3));
        let m = distance_zones(slice, 2);
        // The ring of 1s touches the edge (distance 1); the centre pixel is at distance 3.
        assert_eq!(
            (m.counts.get(0, 0), m.counts.get(1, 2), m.counts.total()),
            (1.0, 1.0, 2.0)
        );
    }
}
