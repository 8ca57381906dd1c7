//! The IBSI 1 digital phantom against IBSI's reference values (fixtures/ibsi_phantom, see its
//! README.md): every feature the crate computes on the phantom, for each aggregation method
//! the reference lists, within IBSI's tolerance.
//!
//! Tolerance: IBSI gives a tolerance for the phantom's morphological features; for the others
//! its table has none ("—"): the value is exact, printed to three significant digits. Those
//! are compared to the precision printed: within half a unit of the third significant digit
//! (the last printed digit when more are printed).

use std::collections::BTreeMap;
use std::path::Path;

use medxfer_radiomics::{Aggregation, Discretisation, Family, RadiomicsConfig, RoiVolume, extract};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ibsi_phantom");

fn phantom() -> RoiVolume {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("phantom.txt")).unwrap();
    let mut blocks: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut current = String::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        if line.chars().all(|c| c.is_ascii_alphabetic()) {
            current = line.to_string();
            continue;
        }
        let values = line.split_whitespace().map(|v| v.parse::<f64>().unwrap());
        blocks.entry(current.clone()).or_default().extend(values);
    }
    let mask = blocks["mask"].iter().map(|&m| m == 1.0).collect();
    RoiVolume::new([5, 4, 4], [2.0, 2.0, 2.0], blocks["image"].clone(), mask).unwrap()
}

struct Reference {
    family: String,
    name: String,
    aggregation: String,
    text: String,
    value: f64,
    ibsi_tolerance: f64,
}

fn references() -> Vec<Reference> {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("reference.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 6, "{line}");
            Reference {
                family: cells[0].into(),
                name: cells[1].into(),
                aggregation: cells[3].into(),
                text: cells[4].into(),
                value: cells[4].parse().unwrap(),
                ibsi_tolerance: if cells[5].is_empty() {
                    0.0
                } else {
                    cells[5].parse().unwrap()
                },
            }
        })
        .collect()
}

/// Half a unit of the last significant digit of `text`, taking at least three significant
/// digits (IBSI prints three and drops trailing zeros: "7" is 7.00).
fn rounding_tolerance(text: &str, value: f64) -> f64 {
    if value == 0.0 {
        return 1e-12;
    }
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let significant = digits.trim_start_matches('0').len().max(3) as i32;
    0.5 * 10f64.powi(value.abs().log10().floor() as i32 - (significant - 1))
}

/// The aggregation methods an IBSI label stands for (zone-based families have no directions,
/// so their "2D" covers both 2-D methods and "2.5D" both 2.5-D ones; whole-ROI families do not
/// depend on the method).
fn methods(label: &str) -> Vec<Aggregation> {
    match label {
        "2D averaged" => vec![Aggregation::Averaged2d],
        "2D slice-merged" => vec![Aggregation::SliceMerged2d],
        "2.5D direction-merged" => vec![Aggregation::DirectionMerged25d],
        "2.5D merged" => vec![Aggregation::Merged25d],
        "2D" => vec![Aggregation::Averaged2d, Aggregation::SliceMerged2d],
        "2.5D" => vec![Aggregation::DirectionMerged25d, Aggregation::Merged25d],
        "3D" => vec![Aggregation::Averaged2d],
        other => panic!("unknown aggregation label {other}"),
    }
}

/// The phantom's intensities are its grey levels (IBSI does not discretise it): bins of width
/// 1 from 0.5 map each integer intensity to itself.
fn config(aggregation: Aggregation) -> RadiomicsConfig {
    RadiomicsConfig {
        discretisation: Discretisation::FixedBinSize {
            width: 1.0,
            lower_bound: 0.5,
        },
        aggregation,
    }
}

fn computed(aggregation: Aggregation) -> BTreeMap<(String, String), f64> {
    extract(&phantom(), &config(aggregation))
        .unwrap()
        .into_iter()
        .map(|f| {
            (
                (f.name.family.to_string(), f.name.name.to_string()),
                f.value,
            )
        })
        .collect()
}

#[test]
fn every_feature_matches_the_ibsi_phantom_reference_within_tolerance() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for r in references() {
        for method in methods(&r.aggregation) {
            let values = computed(method);
            let Some(&got) = values.get(&(r.family.clone(), r.name.clone())) else {
                failures.push(format!("{} {}: not computed", r.family, r.name));
                continue;
            };
            let tolerance = r.ibsi_tolerance.max(rounding_tolerance(&r.text, r.value));
            if (got - r.value).abs() > tolerance {
                failures.push(format!(
                    "{} / {} ({}, {method:?}): computed {got:.6}, IBSI {} +- {tolerance}",
                    r.family, r.name, r.aggregation, r.text
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 320 reference rows; the 108 GLSZM, GLDZM, NGTDM and NGLDM rows each stand for two
    // methods.
    assert_eq!(checked, 320 + 108, "checks run");
}

#[test]
fn every_feature_computed_on_the_phantom_has_a_reference_value() {
    let references = references();
    let has_reference = |family: &str, name: &str, labels: &[&str]| {
        references.iter().any(|r| {
            r.family == family && r.name == name && labels.contains(&r.aggregation.as_str())
        })
    };
    for method in [
        Aggregation::Averaged2d,
        Aggregation::SliceMerged2d,
        Aggregation::Merged25d,
    ] {
        for f in extract(&phantom(), &config(method)).unwrap() {
            let labels: &[&str] = match (f.name.family, method) {
                (Family::Glcm | Family::Glrlm, Aggregation::Averaged2d) => &["2D averaged"],
                (Family::Glcm | Family::Glrlm, Aggregation::SliceMerged2d) => &["2D slice-merged"],
                (Family::Glcm | Family::Glrlm, Aggregation::DirectionMerged25d) => {
                    &["2.5D direction-merged"]
                }
                (Family::Glcm | Family::Glrlm, _) => &["2.5D merged"],
                (
                    Family::Glszm | Family::Gldzm | Family::Ngtdm | Family::Ngldm,
                    Aggregation::DirectionMerged25d | Aggregation::Merged25d,
                ) => &["2.5D"],
                (Family::Glszm | Family::Gldzm | Family::Ngtdm | Family::Ngldm, _) => &["2D"],
                _ => &["3D"],
            };
            assert!(
                has_reference(f.name.family.as_str(), f.name.name, labels),
                "{} has no reference",
                f.name.key()
            );
        }
    }
}

#[test]
fn rounding_tolerance_follows_the_printed_digits() {
    assert_eq!(rounding_tolerance("7", 7.0), 0.005);
    assert!((rounding_tolerance("0.0341", 0.0341) - 0.00005).abs() < 1e-15);
    assert!((rounding_tolerance("-50", -50.0) - 0.05).abs() < 1e-12);
    assert!((rounding_tolerance("592", 592.0) - 0.5).abs() < 1e-12);
}
