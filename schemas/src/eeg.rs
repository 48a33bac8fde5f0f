//! Canonical metadata of the eeg modalities (`eeg/1`).

/// Schema version string of this module.
pub const VERSION: &str = "eeg/1";
