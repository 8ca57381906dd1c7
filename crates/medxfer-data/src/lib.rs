//! medxfer-data
