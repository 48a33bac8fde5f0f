//! Canonical metadata of the genome modalities (`genome/1`).

/// Schema version string of this module.
pub const VERSION: &str = "genome/1";
