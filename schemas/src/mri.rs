//! Canonical metadata of the mri modalities (`mri/1`).

/// Schema version string of this module.
pub const VERSION: &str = "mri/1";
