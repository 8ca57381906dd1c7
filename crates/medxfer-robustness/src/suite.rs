//! What a study perturbs: the suites, and each suite's conditions (a perturbation at one
//! strength), the unperturbed images first.

use crate::bbox::BBOX_STRENGTHS;
use crate::corruption::{Corruption, SEVERITIES};

/// `medxfer robustness --suite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// Crops around the lesion's bounding box with random shifts and scale changes.
    Bbox,
    /// Noise, speckle, blur, contrast, gamma and JPEG at five severities.
    Corruptions,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::Bbox => "bbox",
            Suite::Corruptions => "corruptions",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perturbation {
    /// The images as the run evaluated them: the reference of every paired test.
    None,
    /// A crop around the lesion's box (`crate::bbox`).
    BboxCrop,
    Corruption(Corruption),
}

impl Perturbation {
    pub fn name(self) -> &'static str {
        match self {
            Perturbation::None => "none",
            Perturbation::BboxCrop => "bbox_crop",
            Perturbation::Corruption(c) => c.name(),
        }
    }

    /// A number per perturbation for seeding, stable across releases (do not renumber).
    pub(crate) fn seed_code(self) -> u64 {
        match self {
            Perturbation::None => 0,
            Perturbation::BboxCrop => 1,
            Perturbation::Corruption(c) => {
                2 + Corruption::ALL.iter().position(|&a| a == c).unwrap_or(0) as u64
            }
        }
    }
}

/// One perturbation at one strength.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub perturbation: Perturbation,
    /// The strength's rank: 0 (none or the centred crop) up to the suite's last.
    pub level: usize,
    /// The strength itself: the bbox jitter fraction, or the corruption's parameter.
    pub parameter: f64,
}

/// The suite's conditions, the unperturbed images first; the corruption suite applies the
/// `corruptions` given (all of them when the list is empty), in [`Corruption::ALL`]'s order.
pub fn conditions(suite: Suite, corruptions: &[Corruption]) -> Vec<Condition> {
    let mut out = vec![Condition {
        perturbation: Perturbation::None,
        level: 0,
        parameter: 0.0,
    }];
    match suite {
        Suite::Bbox => out.extend(
            BBOX_STRENGTHS
                .iter()
                .enumerate()
                .map(|(level, &s)| Condition {
                    perturbation: Perturbation::BboxCrop,
                    level,
                    parameter: s,
                }),
        ),
        Suite::Corruptions => {
            let chosen = Corruption::ALL
                .into_iter()
                .filter(|c| corruptions.is_empty() || corruptions.contains(c));
            for corruption in chosen {
                out.extend((1..=SEVERITIES).map(|level| Condition {
                    perturbation: Perturbation::Corruption(corruption),
                    level,
                    parameter: corruption.parameter(level),
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_list_the_reference_then_every_strength() {
        let bbox = conditions(Suite::Bbox, &[]);
        assert_eq!(bbox[0].perturbation, Perturbation::None);
        assert_eq!(bbox.len(), 1 + BBOX_STRENGTHS.len());
        assert!(bbox.len() >= 1 + 1 + 5, "at least five strengths plus 0");
        let corruptions = conditions(Suite::Corruptions, &[]);
        assert_eq!(corruptions.len(), 1 + 6 * SEVERITIES);
        let codes: std::collections::HashSet<u64> = corruptions
            .iter()
            .map(|c| c.perturbation.seed_code())
            .chain([Perturbation::BboxCrop.seed_code()])
            .collect();
        assert_eq!(codes.len(), 1 + 1 + 6, "seed codes are distinct");
        // A chosen subset keeps the reference and the fixed order, whatever the request's.
        let two = conditions(Suite::Corruptions, &[Corruption::Jpeg, Corruption::Gamma]);
        let names: Vec<&str> = two.iter().map(|c| c.perturbation.name()).collect();
        assert_eq!(names.len(), 1 + 2 * SEVERITIES);
        assert_eq!(
            (names[0], names[1], names[SEVERITIES + 1]),
            ("none", "gamma", "jpeg")
        );
    }
}
