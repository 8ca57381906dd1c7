//! medxfer-train
