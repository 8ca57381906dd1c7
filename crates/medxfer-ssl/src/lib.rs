//! Self-supervised pretraining of an encoder on unlabelled images (paper 003, chapters 4 and
//! 5.2): SimCLR, MoCo v2 and BYOL share the views, the projection heads and the data pool, and
//! run as one task of `medxfer-train`'s run engine (epochs, checkpoints, resume); each method
//! only says how two batches of views become a loss. The product is an
//! encoder checkpoint (`encoder.bpk` + `encoder.json`) that `medxfer train` loads with
//! `init = "ssl:PATH"`, plus loss curves, a t-SNE plot and k-NN / linear-probe evaluation.

pub mod byol;
pub mod collapse;
pub mod config;
pub mod continuation;
pub mod curves;
pub mod ema;
pub mod embed;
pub mod encoder_file;
mod error;
pub mod eval;
pub mod exclusion;
pub mod method;
pub mod moco;
pub use medxfer_report::plot;
pub mod pool;
pub mod pretrain;
pub mod probe;
pub mod projection;
pub mod simclr;
pub mod task;
#[cfg(test)]
mod test_tensors;
pub mod tsne;
pub mod views;

pub use config::{MethodConfig, PretrainConfig};
pub use encoder_file::EncoderInfo;
pub use error::SslError;
pub use pretrain::{PretrainSummary, pretrain};
