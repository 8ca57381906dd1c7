//! Building the classifier a run describes, and switching which of its parts learn.

use std::path::Path;

use burn::prelude::*;
use medxfer_models::{Backbone, BackboneKind, Classifier, Head, HeadConfig, Init, load_init, spec};

use crate::TrainError;
use crate::strategy::Trainable;

/// The architecture of a classifier, enough to rebuild it before loading saved weights.
#[derive(Debug, Clone)]
pub struct Architecture {
    pub backbone: BackboneKind,
    pub in_channels: usize,
    pub head: HeadConfig,
    pub num_classes: usize,
}

impl Architecture {
    /// A freshly initialised classifier with random weights.
    pub fn build(&self, device: &Device) -> Classifier {
        let backbone = Backbone::new(self.backbone, self.in_channels, device);
        let head = Head::new(
            &self.head,
            spec(self.backbone).feature_dim,
            self.num_classes,
            device,
        );
        Classifier { backbone, head }
    }

    /// A classifier whose backbone starts from `init` and whose head is new.
    pub fn build_initialised(
        &self,
        init: &Init,
        weights_dir: &Path,
        device: &Device,
    ) -> Result<Classifier, TrainError> {
        let Classifier { backbone, head } = self.build(device);
        let backbone = load_init(backbone, self.backbone, init, weights_dir)?;
        Ok(Classifier { backbone, head })
    }

    /// A classifier with the weights saved at `path` (a burnpack file this crate wrote).
    pub fn load(&self, path: &Path, device: &Device) -> Result<Classifier, TrainError> {
        self.build(device)
            .try_load_file(path)
            .map_err(|e| TrainError::Checkpoint {
                path: path.to_path_buf(),
                message: format!("cannot load model weights: {e}"),
            })
    }
}

/// Freeze or unfreeze parts of the classifier for a phase. Frozen backbone parts also stop
/// updating batch-norm statistics.
pub fn set_trainable(model: Classifier, trainable: Trainable) -> Classifier {
    let Classifier { backbone, head } = model;
    let backbone = match trainable {
        Trainable::HeadOnly => backbone.freeze(),
        Trainable::All => backbone.unfreeze(),
        Trainable::LastStages(n) => backbone.unfreeze().freeze_stages_before(n),
    };
    Classifier {
        backbone,
        head: head.unfreeze(),
    }
}

/// Save the classifier's weights (burnpack replaces the destination atomically).
pub fn save_model(model: &Classifier, path: &Path) -> Result<(), TrainError> {
    model
        .clone()
        .save_file(path)
        .map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("cannot save model: {e}"),
        })
}
