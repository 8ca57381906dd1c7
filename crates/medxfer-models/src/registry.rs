//! The backbone registry: the one place that lists the backbones medxfer knows.
//!
//! A backbone is one folder (`resnet/`, `efficientnet/`, `densenet/`, ...) holding its modules,
//! its state-dict key layout and its spec, tied together by a type implementing
//! [`BackboneDefinition`]. Registering it is one line in the `backbone_registry!` call at the
//! end of this file: `Variant = "config_name" => folder::Definition`. The macro generates the
//! `BackboneKind` and `Backbone` enums and every `match` over them, so the shared code
//! (forward passes, stage access, spec lookup, key layouts, `weights list`) asks the folder's
//! definition instead of matching on each kind itself.

use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::BackboneSpec;

/// What every backbone network offers the shared code (`Backbone`'s dispatch).
pub trait BackboneNetwork: Module {
    /// The first convolution (its weight's second axis is the input channels).
    fn first_conv(&self) -> &Conv2d;
    /// Global-average-pooled features: B x C x H x W -> B x feature_dim.
    fn forward_features(&self, x: Tensor<4>) -> Tensor<2>;
    /// One stage (index into the spec's `stage_names`) on the previous stage's output; the last
    /// stage's output, pooled, equals `forward_features`. Other indices return `x` unchanged.
    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4>;
    /// Turn gradients and training behaviour (batch-norm statistics) of one stage on or off.
    fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self;
    /// Every batch norm, in forward order.
    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm>;
}

/// One registered backbone: how to build it, its registry entry and its key layouts.
pub trait BackboneDefinition {
    type Network: BackboneNetwork;

    /// A randomly initialised network taking `in_channels`-channel images.
    fn build(in_channels: usize, device: &Device) -> Self::Network;

    /// Input size and normalisation, widths, stages and known weights.
    fn spec() -> BackboneSpec;

    /// The key of the parameter at burn module path `path` in the torchvision-style state dict
    /// `model.init = "file:PATH"` reads.
    fn torch_key(path: &str) -> String;

    /// Whether `file:` may leave the key `key` of a torchvision-style state dict unused, as a
    /// tensor of no backbone parameter: by default the ImageNet classifier
    /// (`spec().torch_head_prefix`); Inception-v3 adds its auxiliary classifier.
    fn is_torch_head_key(key: &str) -> bool {
        key.starts_with(Self::spec().torch_head_prefix)
    }

    /// The key of the parameter at `path` in the tensors read from the registry package of
    /// `spec().weights` (by default the torchvision-style key).
    fn package_key(path: &str) -> String {
        Self::torch_key(path)
    }

    /// What the registry package's weights were trained on (ImageNet unless the backbone
    /// says otherwise).
    fn weights_domain() -> crate::WeightDomain {
        crate::WeightDomain::Imagenet
    }
}

/// Generates `BackboneKind`, `Backbone` and their dispatch from one line per backbone.
macro_rules! backbone_registry {
    ($($variant:ident = $name:literal => $definition:ty),+ $(,)?) => {
        /// The backbone architectures medxfer knows, by name (see `registry.rs`).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, clap::ValueEnum,
        )]
        pub enum BackboneKind {
            $(
                #[value(name = $name)]
                #[serde(rename = $name)]
                $variant,
            )+
        }

        impl BackboneKind {
            pub const ALL: [BackboneKind; [$($name),+].len()] = [$(BackboneKind::$variant),+];

            /// The name used in configs, on the command line and in file names.
            pub fn name(self) -> &'static str {
                match self {
                    $(BackboneKind::$variant => $name,)+
                }
            }

            /// The enum variant name `BurnpackStore` writes in front of a `Backbone`'s paths.
            pub(crate) fn variant_name(self) -> &'static str {
                match self {
                    $(BackboneKind::$variant => stringify!($variant),)+
                }
            }
        }

        /// The registry entry of `kind`.
        pub fn spec(kind: BackboneKind) -> crate::BackboneSpec {
            match kind {
                $(BackboneKind::$variant => <$definition as BackboneDefinition>::spec(),)+
            }
        }

        /// The torchvision-style state-dict key of the parameter at burn path `path`.
        pub(crate) fn torch_key(kind: BackboneKind, path: &str) -> String {
            match kind {
                $(BackboneKind::$variant => <$definition as BackboneDefinition>::torch_key(path),)+
            }
        }

        /// Whether `file:` may leave the torchvision-style key `key` unused (a head's tensor).
        pub(crate) fn is_torch_head_key(kind: BackboneKind, key: &str) -> bool {
            match kind {
                $(BackboneKind::$variant => {
                    <$definition as BackboneDefinition>::is_torch_head_key(key)
                })+
            }
        }

        /// The key of the parameter at burn path `path` in the registry package's tensors.
        pub(crate) fn package_key(kind: BackboneKind, path: &str) -> String {
            match kind {
                $(BackboneKind::$variant => {
                    <$definition as BackboneDefinition>::package_key(path)
                })+
            }
        }

        /// What the registry weights of `kind` were trained on.
        pub fn weights_domain(kind: BackboneKind) -> crate::WeightDomain {
            match kind {
                $(BackboneKind::$variant => {
                    <$definition as BackboneDefinition>::weights_domain()
                })+
            }
        }

        /// A feature extractor: image batch in, pooled feature vectors out. Built once per
        /// model and moved whole, so variants of different sizes cost nothing worth boxing.
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum Backbone {
            $($variant(<$definition as BackboneDefinition>::Network),)+
        }

        impl Backbone {
            /// A randomly initialised backbone taking `in_channels`-channel images.
            pub fn new(kind: BackboneKind, in_channels: usize, device: &Device) -> Self {
                match kind {
                    $(BackboneKind::$variant => Backbone::$variant(
                        <$definition as BackboneDefinition>::build(in_channels, device),
                    ),)+
                }
            }

            pub fn kind(&self) -> BackboneKind {
                match self {
                    $(Backbone::$variant(_) => BackboneKind::$variant,)+
                }
            }

            fn network(&self) -> &dyn DispatchedNetwork {
                match self {
                    $(Backbone::$variant(net) => net,)+
                }
            }

            /// Turn gradients and training behaviour (batch-norm statistics) of one stage on
            /// or off.
            pub fn set_stage_trainable(self, stage: usize, trainable: bool) -> Self {
                match self {
                    $(Backbone::$variant(net) => Backbone::$variant(
                        BackboneNetwork::set_stage_trainable(net, stage, trainable),
                    ),)+
                }
            }

            /// Every batch norm, in forward order.
            pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
                match self {
                    $(Backbone::$variant(net) => BackboneNetwork::batch_norms_mut(net),)+
                }
            }
        }
    };
}

/// The borrowing part of `BackboneNetwork`, object-safe, so `Backbone` dispatches it once.
pub(crate) trait DispatchedNetwork {
    fn first_conv(&self) -> &Conv2d;
    fn forward_features(&self, x: Tensor<4>) -> Tensor<2>;
    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4>;
}

impl<N: BackboneNetwork> DispatchedNetwork for N {
    fn first_conv(&self) -> &Conv2d {
        BackboneNetwork::first_conv(self)
    }

    fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        BackboneNetwork::forward_features(self, x)
    }

    fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        BackboneNetwork::forward_stage(self, stage, x)
    }
}

impl Backbone {
    /// The first convolution of whichever network this is.
    pub(crate) fn first_conv(&self) -> &Conv2d {
        self.network().first_conv()
    }

    /// Global-average-pooled features: B x C x H x W -> B x feature_dim.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        self.network().forward_features(x)
    }

    /// One stage (index into `stage_names`) on the previous stage's output.
    pub fn forward_stage(&self, stage: usize, x: Tensor<4>) -> Tensor<4> {
        self.network().forward_stage(stage, x)
    }
}

backbone_registry! {
    Resnet18 = "resnet18" => crate::resnet::Resnet18,
    Resnet50 = "resnet50" => crate::resnet::Resnet50,
    EfficientnetLite0 = "efficientnet_lite0" => crate::efficientnet::Lite0,
    Densenet121 = "densenet121" => crate::densenet::Densenet121,
    Vgg16 = "vgg16" => crate::vgg::Vgg16,
    Vgg16Bn = "vgg16_bn" => crate::vgg::Vgg16Bn,
    Xception = "xception" => crate::xception::XceptionDefinition,
    InceptionV3 = "inception_v3" => crate::inception::InceptionV3Definition,
}
