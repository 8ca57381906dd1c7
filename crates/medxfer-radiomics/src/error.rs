use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum RadiomicsError {
    #[error(
        "image of {width} x {height} x {depth} needs {expected} values, got {intensities} intensities and {mask} mask values"
    )]
    SizeMismatch {
        width: usize,
        height: usize,
        depth: usize,
        expected: usize,
        intensities: usize,
        mask: usize,
    },
    #[error("the region of interest is empty (no mask pixel is set)")]
    EmptyRoi,
    #[error("intensity {value} at pixel {index} of the region of interest is not finite")]
    NonFiniteIntensity { index: usize, value: f64 },
    #[error("voxel spacing must be positive and finite, got {0:?}")]
    InvalidSpacing([f64; 3]),
    #[error("invalid discretisation: {0}")]
    InvalidDiscretisation(String),
    #[error(
        "intensity {value} lies below the fixed-bin-size lower bound {lower_bound} (IBSI bins start at the re-segmentation range's lower bound)"
    )]
    BelowLowerBound { value: f64, lower_bound: f64 },
    #[error(
        "fixed bin size {width} from {lower_bound} gives {levels} grey levels for intensities up to {max}: more than the {limit} allowed"
    )]
    TooManyLevels {
        width: f64,
        lower_bound: f64,
        max: f64,
        levels: u64,
        limit: u32,
    },
    #[error("the region of interest is too small for {family} features: {reason}")]
    TooSmall {
        family: &'static str,
        reason: &'static str,
    },
}
