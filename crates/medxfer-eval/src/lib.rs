//! medxfer-eval
