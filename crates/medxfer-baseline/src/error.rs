//! The one error type of medxfer-baseline.

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// A hyperparameter outside its domain (named, with the value and the rule).
    #[error("invalid hyperparameter {name}: {message}")]
    InvalidParams { name: &'static str, message: String },
    /// Features, labels or folds that do not fit together.
    #[error("{0}")]
    Data(String),
    #[error(transparent)]
    Eval(#[from] medxfer_eval::EvalError),
}

impl BaselineError {
    pub(crate) fn params(name: &'static str, message: impl Into<String>) -> Self {
        BaselineError::InvalidParams {
            name,
            message: message.into(),
        }
    }

    pub(crate) fn data(message: impl Into<String>) -> Self {
        BaselineError::Data(message.into())
    }
}
