//! Morphological features. IBSI defines morphology in 3-D only (on a marching-cubes mesh and
//! on the voxel-centre point set). On a 3-D volume this module computes the point-set
//! features, which IBSI's digital phantom checks. On a 2-D image (ultrasound) it computes the
//! point-set features IBSI defines for any dimension (centre of mass shift, PCA axes,
//! elongation) plus the 2-D analogues of the mesh features on a marching-squares contour
//! (pixel-centre grid, crossings at edge midpoints, the two diagonal pixels of a saddle kept
//! apart): area, perimeter, circularity, maximum diameter and area densities. The analogues
//! carry no IBSI code.

use crate::feature::{Family, Feature, named};
use crate::volume::RoiVolume;

const NAMES_2D: [(&str, &str); 13] = [
    ("area (pixel counting)", ""),
    ("area (contour)", ""),
    ("perimeter (contour)", ""),
    ("perimeter to area ratio", ""),
    ("circularity", ""),
    ("maximum diameter", ""),
    ("area density (AABB)", ""),
    ("area density (convex hull)", ""),
    ("integrated intensity", ""),
    ("centre of mass shift", "KLMA"),
    ("major axis length", "TDIC"),
    ("minor axis length", "P9VJ"),
    ("elongation", "Q3CK"),
];

const NAMES_3D: [(&str, &str); 7] = [
    ("volume (voxel counting)", "YEKZ"),
    ("centre of mass shift", "KLMA"),
    ("major axis length", "TDIC"),
    ("minor axis length", "P9VJ"),
    ("least axis length", "7J51"),
    ("elongation", "Q3CK"),
    ("flatness", "N17B"),
];

pub fn features(volume: &RoiVolume) -> Vec<Feature> {
    if volume.is_2d() {
        features_2d(volume)
    } else {
        features_3d(volume)
    }
}

fn features_3d(volume: &RoiVolume) -> Vec<Feature> {
    let points = roi_centres(volume);
    let [sx, sy, sz] = volume.spacing();
    let axes = principal_variances(&points, 3);
    let (major, minor, least) = (axes[0], axes[1], axes[2]);
    let values = [
        points.len() as f64 * sx * sy * sz,
        centre_of_mass_shift(volume),
        4.0 * major.sqrt(),
        4.0 * minor.sqrt(),
        4.0 * least.sqrt(),
        ratio_sqrt(minor, major),
        ratio_sqrt(least, major),
    ];
    named(Family::Morphology, &NAMES_3D, &values)
}

fn features_2d(volume: &RoiVolume) -> Vec<Feature> {
    let points = roi_centres(volume);
    let [sx, sy, _] = volume.spacing();
    let contour = Contour::of(volume);
    let axes = principal_variances(&points, 2);
    let hull = convex_hull(&contour.vertices);
    let (min, max) = bounding_box(&contour.vertices);
    let roi = volume.roi_intensities();
    let mean = roi.iter().sum::<f64>() / roi.len() as f64;
    let values = [
        points.len() as f64 * sx * sy,
        contour.area,
        contour.perimeter,
        contour.perimeter / contour.area,
        4.0 * std::f64::consts::PI * contour.area / (contour.perimeter * contour.perimeter),
        maximum_distance(&hull),
        contour.area / ((max[0] - min[0]) * (max[1] - min[1])),
        contour.area / polygon_area(&hull),
        contour.area * mean,
        centre_of_mass_shift(volume),
        4.0 * axes[0].sqrt(),
        4.0 * axes[1].sqrt(),
        ratio_sqrt(axes[1], axes[0]),
    ];
    named(Family::Morphology, &NAMES_2D, &values)
}

/// sqrt(a / b), 1 for a degenerate (single-point) ROI.
fn ratio_sqrt(a: f64, b: f64) -> f64 {
    if b > 0.0 { (a / b).sqrt() } else { 1.0 }
}

fn roi_centres(volume: &RoiVolume) -> Vec<[f64; 3]> {
    (0..volume.mask().len())
        .filter(|&i| volume.in_roi(i))
        .map(|i| volume.centre(i))
        .collect()
}

/// Distance between the ROI's centroid and its intensity-weighted centroid (KLMA).
fn centre_of_mass_shift(volume: &RoiVolume) -> f64 {
    let (mut geometric, mut weighted, mut count, mut weight) = ([0.0; 3], [0.0; 3], 0.0, 0.0);
    for i in (0..volume.mask().len()).filter(|&i| volume.in_roi(i)) {
        let (c, v) = (volume.centre(i), volume.intensity(i));
        for a in 0..3 {
            geometric[a] += c[a];
            weighted[a] += v * c[a];
        }
        count += 1.0;
        weight += v;
    }
    if weight == 0.0 {
        return 0.0;
    }
    (0..3)
        .map(|a| (geometric[a] / count - weighted[a] / weight).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Eigenvalues, largest first, of the covariance of the first `dims` coordinates of the points:
/// the sample covariance (divided by n - 1), under which the IBSI phantom's minor and least
/// axis lengths match (divided by n they come out 0.7% short, outside IBSI's tolerance).
fn principal_variances(points: &[[f64; 3]], dims: usize) -> Vec<f64> {
    let n = points.len() as f64;
    let denominator = (n - 1.0).max(1.0);
    let mut mean = [0.0; 3];
    for p in points {
        for a in 0..dims {
            mean[a] += p[a] / n;
        }
    }
    let mut cov = vec![vec![0.0; dims]; dims];
    for p in points {
        for a in 0..dims {
            for b in 0..dims {
                cov[a][b] += (p[a] - mean[a]) * (p[b] - mean[b]) / denominator;
            }
        }
    }
    let mut eigen = symmetric_eigenvalues(cov);
    eigen.sort_by(|a, b| b.total_cmp(a));
    eigen.into_iter().map(|e| e.max(0.0)).collect()
}

/// Eigenvalues of a small symmetric matrix by cyclic Jacobi rotations (converges
/// quadratically; 50 sweeps is far more than a 3 x 3 matrix needs).
// Index loops mirror the rotation formulas a[k][p], a[p][k]; iterators would hide them.
#[allow(clippy::needless_range_loop)]
fn symmetric_eigenvalues(mut a: Vec<Vec<f64>>) -> Vec<f64> {
    let n = a.len();
    for _ in 0..50 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i][i]).collect()
}

/// The marching-squares contour of a 2-D mask: its enclosed area, its length and its vertices
/// (edge midpoints between an ROI pixel and a non-ROI one), in world units.
struct Contour {
    area: f64,
    perimeter: f64,
    vertices: Vec<[f64; 2]>,
}

impl Contour {
    fn of(volume: &RoiVolume) -> Contour {
        let [nx, ny, _] = volume.dims();
        let [sx, sy, _] = volume.spacing();
        let inside = |x: isize, y: isize| {
            x >= 0
                && y >= 0
                && (x as usize) < nx
                && (y as usize) < ny
                && volume.in_roi(volume.index(x as usize, y as usize, 0))
        };
        let diagonal = (sx * sx + sy * sy).sqrt() / 2.0;
        let (mut area, mut perimeter, mut vertices) = (0.0, 0.0, Vec::new());
        // Cells span pixel centres (x, y) to (x + 1, y + 1); the padding ring of cells at -1
        // and n - 1 closes contours that touch the image border.
        for y in -1..ny as isize {
            for x in -1..nx as isize {
                let corners = [
                    inside(x, y),
                    inside(x + 1, y),
                    inside(x + 1, y + 1),
                    inside(x, y + 1),
                ];
                let (cell_area, cell_length) = cell_contribution(corners, sx, sy, diagonal);
                area += cell_area;
                perimeter += cell_length;
                if corners[0] != corners[1] {
                    vertices.push([(x as f64 + 0.5) * sx, y as f64 * sy]);
                }
                if corners[0] != corners[3] {
                    vertices.push([x as f64 * sx, (y as f64 + 0.5) * sy]);
                }
            }
        }
        Contour {
            area,
            perimeter,
            vertices,
        }
    }
}

/// Area inside the contour and contour length within one marching-squares cell whose corners
/// (counter-clockwise from the top left) are in or out of the ROI.
fn cell_contribution(corners: [bool; 4], sx: f64, sy: f64, diagonal: f64) -> (f64, f64) {
    let cell = sx * sy;
    match corners.iter().filter(|&&c| c).count() {
        0 => (0.0, 0.0),
        1 => (cell / 8.0, diagonal),
        3 => (cell * 7.0 / 8.0, diagonal),
        4 => (cell, 0.0),
        _ if corners[0] == corners[2] => (cell / 4.0, 2.0 * diagonal), // saddle, kept apart
        _ if corners[0] == corners[1] => (cell / 2.0, sx),             // top or bottom pair
        _ => (cell / 2.0, sy),                                         // left or right pair
    }
}

fn bounding_box(points: &[[f64; 2]]) -> ([f64; 2], [f64; 2]) {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    for p in points {
        for a in 0..2 {
            min[a] = min[a].min(p[a]);
            max[a] = max[a].max(p[a]);
        }
    }
    (min, max)
}

/// Convex hull (Andrew's monotone chain), counter-clockwise, without repeated end point.
fn convex_hull(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    sorted.dedup();
    if sorted.len() < 3 {
        return sorted;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(2 * sorted.len());
    for pass in [sorted.clone(), sorted.iter().rev().copied().collect()] {
        let start = hull.len();
        for p in pass {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

fn polygon_area(polygon: &[[f64; 2]]) -> f64 {
    let n = polygon.len();
    (0..n)
        .map(|i| {
            let (a, b) = (polygon[i], polygon[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        .abs()
        / 2.0
}

fn maximum_distance(points: &[[f64; 2]]) -> f64 {
    let mut best: f64 = 0.0;
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            best = best.max(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt());
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(k: usize, pad: usize) -> RoiVolume {
        let n = k + 2 * pad;
        let mask: Vec<bool> = (0..n * n)
            .map(|i| (pad..pad + k).contains(&(i % n)) && (pad..pad + k).contains(&(i / n)))
            .collect();
        RoiVolume::image_2d(n, n, [1.0, 1.0], vec![1.0; n * n], mask).unwrap()
    }

    fn value(features: &[Feature], name: &str) -> f64 {
        features.iter().find(|f| f.name.name == name).unwrap().value
    }

    #[test]
    fn a_square_block_has_the_marching_squares_area_and_perimeter() {
        // k x k pixels: the contour cuts each corner pixel's outer quarter diagonally.
        for (k, pad) in [(1, 0), (3, 2), (6, 0)] {
            let f = features(&square(k, pad));
            let k = k as f64;
            assert!((value(&f, "area (contour)") - (k * k - 0.5)).abs() < 1e-9);
            assert!(
                (value(&f, "perimeter (contour)") - (4.0 * (k - 1.0) + 2.0 * 2f64.sqrt())).abs()
                    < 1e-9
            );
            assert_eq!(value(&f, "area (pixel counting)"), k * k);
            assert!(
                (value(&f, "maximum diameter") - (k * k + (k - 1.0) * (k - 1.0)).sqrt()).abs()
                    < 1e-9
            );
            assert!((value(&f, "elongation") - 1.0).abs() < 1e-9);
            assert_eq!(value(&f, "centre of mass shift"), 0.0);
        }
    }

    #[test]
    fn a_disc_is_nearly_circular() {
        let (n, r) = (101usize, 40.0);
        let mask: Vec<bool> = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as f64 - 50.0, (i / n) as f64 - 50.0);
                x * x + y * y <= r * r
            })
            .collect();
        let f = features(&RoiVolume::image_2d(n, n, [1.0, 1.0], vec![1.0; n * n], mask).unwrap());
        let area = value(&f, "area (contour)");
        assert!(
            (area / (std::f64::consts::PI * r * r) - 1.0).abs() < 0.01,
            "{area}"
        );
        // Midpoint crossings restrict the contour to 0, 45 and 90 degree segments, which
        // lengthen a circle's perimeter by about 5% (measured 1.054 here).
        let excess = value(&f, "perimeter (contour)") / (2.0 * std::f64::consts::PI * r);
        assert!((1.0..1.07).contains(&excess), "{excess}");
        assert!(
            value(&f, "circularity") > 0.87,
            "{}",
            value(&f, "circularity")
        );
        assert!((value(&f, "maximum diameter") - 2.0 * r).abs() < 1.5);
        assert!(value(&f, "area density (convex hull)") > 0.98);
        // A disc's PCA axes: variance r^2 / 4 per axis, so 4 sqrt(variance) = 2 r.
        assert!((value(&f, "major axis length") / (2.0 * r) - 1.0).abs() < 0.02);
    }

    #[test]
    fn an_elongated_bar_has_elongation_below_one_and_anisotropic_spacing_counts() {
        let mask: Vec<bool> = (0..20 * 5).map(|i| (1..4).contains(&(i / 20))).collect();
        let bar = RoiVolume::image_2d(20, 5, [1.0, 1.0], vec![1.0; 100], mask.clone()).unwrap();
        let stretched = RoiVolume::image_2d(20, 5, [1.0, 2.0], vec![1.0; 100], mask).unwrap();
        let (f, g) = (features(&bar), features(&stretched));
        assert!(value(&f, "elongation") < 0.2);
        assert!(
            (value(&g, "area (pixel counting)") - 2.0 * value(&f, "area (pixel counting)")).abs()
                < 1e-9
        );
        assert!((value(&g, "area (contour)") - 2.0 * value(&f, "area (contour)")).abs() < 1e-9);
    }

    #[test]
    fn the_jacobi_eigenvalues_of_a_known_matrix() {
        let mut e = symmetric_eigenvalues(vec![
            vec![2.0, 1.0, 0.0],
            vec![1.0, 2.0, 0.0],
            vec![0.0, 0.0, 5.0],
        ]);
        e.sort_by(f64::total_cmp);
        for (got, want) in e.iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-12);
        }
    }
}
