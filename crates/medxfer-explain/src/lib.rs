//! medxfer-explain: where a trained classifier looks. Class-activation maps (Grad-CAM,
//! Grad-CAM++, HiResCAM, LayerCAM) on a chosen backbone stage, occlusion sensitivity, gradient
//! saliency and integrated gradients, averaged over a run's fold models, written as overlays
//! at each image's original size, raw `.npy` maps and a contact sheet; and (`embedding`) what
//! the fold models learnt, as a t-SNE of their features of their own test images.

pub mod bench;
pub mod cam;
pub mod embedding;
mod error;
pub mod explainer;
pub mod gradient;
pub mod lime;
pub mod localisation;
pub mod method;
pub mod npy;
pub mod occlusion;
pub mod output;
pub mod render;
#[cfg(test)]
mod sanity_tests;
pub mod slic;
mod stage;

pub use error::ExplainError;
pub use explainer::{ExplainRequest, Explainer, Explanation};
pub use method::{CamKind, ExplainMethod, MethodKind, MethodSettings};
pub use output::OutputPlan;
pub use stage::Stage;
