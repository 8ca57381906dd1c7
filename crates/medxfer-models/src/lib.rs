//! medxfer-models
