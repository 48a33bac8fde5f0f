//! Canonical metadata of the omics modalities (`omics/1`).

/// Schema version string of this module.
pub const VERSION: &str = "omics/1";
