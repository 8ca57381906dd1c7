//! The explanation methods and their settings.

use std::fmt;

/// Class-activation maps: a stage's activations weighted by the class score's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CamKind {
    /// Selvaraju et al. 2017: channel weights are the spatial mean of the gradient.
    GradCam,
    /// Chattopadhay et al. 2018: channel weights from positive gradients, weighted by
    /// second/third-order terms (pytorch-grad-cam's closed form).
    GradCamPlusPlus,
    /// Draelos & Carin 2020: gradient times activation per position, summed over channels.
    HiResCam,
    /// Jiang et al. 2021: positive gradient times activation per position.
    LayerCam,
    /// Muhammad & Yeasin 2020: the first principal component of the stage's activations
    /// (positions as observations, channels centred), no gradient and no class: the same map
    /// whatever `--class` says.
    EigenCam,
}

/// What `medxfer explain` computes for each image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainMethod {
    Cam(CamKind),
    /// Drop of the class probability when a `patch` x `patch` square (at `stride`) of the
    /// network input is set to the training mean, averaged over the patches covering a pixel.
    Occlusion {
        patch: usize,
        stride: usize,
    },
    /// Simonyan et al. 2014: largest absolute input gradient over channels.
    Saliency,
    /// Sundararajan et al. 2017, from the all-zero input (the training mean after
    /// normalisation), midpoint rule with `steps` points.
    IntegratedGradients {
        steps: usize,
    },
    /// Ribeiro et al. 2016: `samples` random subsets of about `segments` SLIC superpixels
    /// switched off, a weighted ridge surrogate; seeded by `seed`.
    Lime {
        samples: usize,
        segments: usize,
        seed: u64,
    },
}

/// The method's name on the command line, without its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodKind {
    #[value(name = "gradcam")]
    GradCam,
    #[value(name = "gradcam++")]
    GradCamPlusPlus,
    #[value(name = "hirescam")]
    HiResCam,
    #[value(name = "layercam")]
    LayerCam,
    #[value(name = "eigencam")]
    EigenCam,
    #[value(name = "occlusion")]
    Occlusion,
    #[value(name = "saliency")]
    Saliency,
    #[value(name = "integrated-gradients")]
    IntegratedGradients,
    #[value(name = "lime")]
    Lime,
}

/// Settings of the methods that have some; each method reads only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSettings {
    pub occlusion_patch: usize,
    pub occlusion_stride: usize,
    pub ig_steps: usize,
    pub lime_samples: usize,
    pub lime_segments: usize,
    pub lime_seed: u64,
}

impl Default for MethodSettings {
    /// Occlusion 8/4 resolves a lesion at the 24-64 px inputs medxfer trains on; 32 steps keep
    /// integrated gradients' completeness error to a few per cent on small CNNs; LIME's 1000
    /// samples of 50 superpixels are lime_image's defaults (num_samples, and about its segments).
    fn default() -> Self {
        MethodSettings {
            occlusion_patch: 8,
            occlusion_stride: 4,
            ig_steps: 32,
            lime_samples: 1000,
            lime_segments: 50,
            lime_seed: 0,
        }
    }
}

impl ExplainMethod {
    pub fn new(kind: MethodKind, settings: MethodSettings) -> Self {
        match kind {
            MethodKind::GradCam => ExplainMethod::Cam(CamKind::GradCam),
            MethodKind::GradCamPlusPlus => ExplainMethod::Cam(CamKind::GradCamPlusPlus),
            MethodKind::HiResCam => ExplainMethod::Cam(CamKind::HiResCam),
            MethodKind::LayerCam => ExplainMethod::Cam(CamKind::LayerCam),
            MethodKind::EigenCam => ExplainMethod::Cam(CamKind::EigenCam),
            MethodKind::Occlusion => ExplainMethod::Occlusion {
                patch: settings.occlusion_patch,
                stride: settings.occlusion_stride,
            },
            MethodKind::Saliency => ExplainMethod::Saliency,
            MethodKind::IntegratedGradients => ExplainMethod::IntegratedGradients {
                steps: settings.ig_steps,
            },
            MethodKind::Lime => ExplainMethod::Lime {
                samples: settings.lime_samples,
                segments: settings.lime_segments,
                seed: settings.lime_seed,
            },
        }
    }

    /// The name used in file names and captions.
    pub fn name(&self) -> &'static str {
        match self {
            ExplainMethod::Cam(CamKind::GradCam) => "gradcam",
            ExplainMethod::Cam(CamKind::GradCamPlusPlus) => "gradcam++",
            ExplainMethod::Cam(CamKind::HiResCam) => "hirescam",
            ExplainMethod::Cam(CamKind::LayerCam) => "layercam",
            ExplainMethod::Cam(CamKind::EigenCam) => "eigencam",
            ExplainMethod::Occlusion { .. } => "occlusion",
            ExplainMethod::Saliency => "saliency",
            ExplainMethod::IntegratedGradients { .. } => "integrated-gradients",
            ExplainMethod::Lime { .. } => "lime",
        }
    }

    /// The name without characters awkward in file names.
    pub fn file_tag(&self) -> String {
        self.name().replace("++", "pp")
    }
}

impl fmt::Display for ExplainMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
