//! `load_init`: put the weights an `Init` names into a freshly built backbone.

use std::path::Path;

use burn::nn::LinearConfig;
use burn::prelude::*;

use super::apply::load_state;
use super::fetch::cached_weights_path;
use super::state_dict::{Array, StateDict};
use crate::registry::{is_torch_head_key, torch_key};
use crate::{
    Backbone, BackboneKind, Classifier, Head, Init, ModelError, WeightDomain, spec, weights_domain,
};

/// Prefix of the ImageNet classifier in a converted (burn-layout) weights file.
pub(crate) const CLASSIFIER_PREFIX: &str = "fc.";

/// Load the weights `init` names into `backbone` (built with `Backbone::new(kind, ...)`).
///
/// - `scratch`: returned unchanged.
/// - `imagenet`: `cache_dir/<kind>-imagenet.bpk` written by `medxfer weights fetch <kind>`;
///   an error for a backbone whose registry weights are not ImageNet's (`WeightDomain`).
/// - `pretrained`: the registry weights whatever their domain (`<kind>-<domain>.bpk`, e.g.
///   `xception-ham10000.bpk`).
/// - `file:PATH`: a torchvision-layout state dict (`.pth` zip or legacy, or `.safetensors`);
///   the ImageNet classifier (`BackboneSpec::torch_head_prefix`: `fc.*`, `classifier.*`, ...;
///   Inception-v3's `AuxLogits.*` too, `BackboneDefinition::is_torch_head_key`) is ignored,
///   every other tensor must match.
/// - `ssl:PATH`: a burnpack of the `Backbone` as `backbone.save_into(&mut
///   BurnpackStore::from_file(PATH))` writes it: burn module paths, optionally led by the
///   variant name (`EfficientnetLite0.conv_stem.weight`, `Resnet18.layer1.0.bn1.gamma`,
///   `...running_mean`); `.safetensors` with the same keys also works.
///
/// A 1-channel backbone takes 3-channel weights with the first convolution summed over RGB, and
/// a 3-channel backbone takes 1-channel weights spread over RGB (see `adapt_first_conv`).
pub fn load_init(
    backbone: Backbone,
    kind: BackboneKind,
    init: &Init,
    cache_dir: &Path,
) -> Result<Backbone, ModelError> {
    if backbone.kind() != kind {
        return Err(ModelError::KindMismatch {
            expected: kind.to_string(),
            found: backbone.kind().to_string(),
        });
    }
    let in_channels = backbone.in_channels();
    let model_name = format!("{kind} backbone");
    match init {
        Init::Scratch => Ok(backbone),
        Init::Imagenet | Init::Pretrained => {
            let domain = weights_domain(kind);
            if *init == Init::Imagenet && domain != WeightDomain::Imagenet {
                return Err(ModelError::NotImagenetWeights {
                    kind: kind.to_string(),
                    domain: domain.name().to_string(),
                });
            }
            let mut state = read_cached_imagenet(kind, cache_dir)?;
            adapt_first_conv(&mut state, spec(kind).first_conv_path, in_channels);
            load_state(
                backbone,
                &state,
                &model_name,
                |path| path.to_string(),
                |key| key.starts_with(CLASSIFIER_PREFIX),
            )
        }
        Init::File(path) => {
            let mut state = StateDict::read(path)?;
            let spec = spec(kind);
            adapt_first_conv(&mut state, spec.first_conv_key, in_channels);
            load_state(
                backbone,
                &state,
                &model_name,
                |path| torch_key(kind, path),
                |key| is_torch_head_key(kind, key) || key.ends_with("num_batches_tracked"),
            )
        }
        Init::Ssl(path) => {
            let mut state = StateDict::read(path)?;
            strip_variant_prefix(&mut state, kind)?;
            adapt_first_conv(&mut state, spec(kind).first_conv_path, in_channels);
            load_state(
                backbone,
                &state,
                &model_name,
                |path| path.to_string(),
                |_| false,
            )
        }
    }
}

/// The full ImageNet classifier (backbone + its 1000-class linear layer) from the weights
/// cache, as the weights package ships it.
pub fn imagenet_classifier(
    kind: BackboneKind,
    cache_dir: &Path,
    device: &Device,
) -> Result<Classifier, ModelError> {
    if let Some(source) = spec(kind).weights
        && source.classifier_keys.is_none()
    {
        return Err(ModelError::NoImagenetClassifier {
            kind: kind.to_string(),
            package: source.package.to_string(),
        });
    }
    let backbone = load_init(
        Backbone::new(kind, 3, device),
        kind,
        &Init::Imagenet,
        cache_dir,
    )?;
    let mut state = read_cached_imagenet(kind, cache_dir)?;
    state.tensors = std::mem::take(&mut state.tensors)
        .into_iter()
        .filter_map(|(key, value)| {
            key.strip_prefix(CLASSIFIER_PREFIX)
                .map(|rest| (rest.to_string(), value))
        })
        .collect();
    let num_classes = state
        .tensors
        .get("bias")
        .map(|bias| bias.data.len())
        .ok_or_else(|| ModelError::MissingTensor {
            path: state.path.clone(),
            kind: format!("{kind} ImageNet classifier"),
            tensor: format!("{CLASSIFIER_PREFIX}bias"),
        })?;
    let linear = LinearConfig::new(backbone.feature_dim(), num_classes).init(device);
    let linear = load_state(
        linear,
        &state,
        &format!("{kind} ImageNet classifier"),
        |path| path.to_string(),
        |_| false,
    )?;
    Ok(Classifier {
        backbone,
        head: Head::Linear(linear),
    })
}

fn read_cached_imagenet(kind: BackboneKind, cache_dir: &Path) -> Result<StateDict, ModelError> {
    if spec(kind).weights.is_none() {
        return Err(ModelError::NoPretrainedWeights {
            kind: kind.to_string(),
        });
    }
    let path = cached_weights_path(kind, cache_dir);
    if !path.is_file() {
        return Err(ModelError::WeightsNotCached {
            kind: kind.to_string(),
            path,
        });
    }
    StateDict::read_burnpack(&path)
}

/// Gray input: sum the first convolution's RGB filters, so a gray image x gives the response
/// the RGB image (x, x, x) gave.
/// Fit the first convolution's input channels to the backbone: 3-channel (RGB) weights into a
/// 1-channel backbone are summed over RGB; 1-channel weights (e.g. an SSL encoder pretrained on
/// gray images) into a 3-channel backbone are copied to each channel and divided by 3. Either way
/// a gray image (replicated to RGB for the 3-channel backbone) gives the same activations.
fn adapt_first_conv(state: &mut StateDict, key: &str, in_channels: usize) {
    let Some(weight) = state.tensors.get_mut(key) else {
        return;
    };
    if weight.shape.len() != 4 {
        return;
    }
    match (weight.shape[1], in_channels) {
        (3, 1) => *weight = sum_input_channels(weight),
        (1, 3) => *weight = spread_input_channel(weight, 3),
        _ => {}
    }
}

/// O x 1 x kH x kW -> O x `channels` x kH x kW, each channel the input divided by `channels`.
fn spread_input_channel(weight: &Array, channels: usize) -> Array {
    let plane = weight.shape[2] * weight.shape[3];
    let data = weight
        .data
        .chunks(plane)
        .flat_map(|filter| {
            std::iter::repeat_n(filter, channels)
                .flatten()
                .map(move |value| value / channels as f32)
        })
        .collect();
    Array {
        shape: vec![weight.shape[0], channels, weight.shape[2], weight.shape[3]],
        data,
    }
}

/// O x I x kH x kW -> O x 1 x kH x kW, summing over I.
pub(crate) fn sum_input_channels(weight: &Array) -> Array {
    let [out_channels, in_channels, kh, kw] = [
        weight.shape[0],
        weight.shape[1],
        weight.shape[2],
        weight.shape[3],
    ];
    let plane = kh * kw;
    let mut data = vec![0.0f32; out_channels * plane];
    for o in 0..out_channels {
        for i in 0..in_channels {
            let src = &weight.data[(o * in_channels + i) * plane..][..plane];
            for (dst, value) in data[o * plane..][..plane].iter_mut().zip(src) {
                *dst += value;
            }
        }
    }
    Array {
        shape: vec![out_channels, 1, kh, kw],
        data,
    }
}

/// Accept keys led by the `Backbone` variant name (as `BurnpackStore` writes them); refuse a
/// checkpoint of another architecture with a clear message.
fn strip_variant_prefix(state: &mut StateDict, kind: BackboneKind) -> Result<(), ModelError> {
    for other in BackboneKind::ALL {
        let prefix = format!("{}.", other.variant_name());
        if !state.tensors.keys().any(|k| k.starts_with(&prefix)) {
            continue;
        }
        if other != kind {
            return Err(ModelError::CheckpointKind {
                path: state.path.clone(),
                expected: kind.to_string(),
                found: other.to_string(),
            });
        }
        state.tensors = std::mem::take(&mut state.tensors)
            .into_iter()
            .map(|(k, v)| match k.strip_prefix(&prefix) {
                Some(rest) => (rest.to_string(), v),
                None => (k, v),
            })
            .collect();
    }
    Ok(())
}
