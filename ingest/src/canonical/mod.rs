//! The canonical conversion layer: what every adapter of a modality family writes, in one place.
//!
//! - [`eeg`]: any EEG / iEEG / MEG recording (EDF/BDF, BrainVision, EEGLAB, FIF, NWB, all read
//!   through the `SignalReader` trait of `bomdata-format-core`) → `eeg/1` samples;
//! - [`mri`]: a NIfTI image → one `mri/1` volume sample;
//! - [`pet`]: PET frame timing, dose, weight and decay correction from BIDS sidecars and DICOM.
//!
//! Adapters find and describe their inputs; they hand a [`Target`] (who the sample belongs to
//! and how it is keyed) and the file to a pipeline here.

pub mod dicom;
mod dicom_volume;
pub mod eeg;
pub mod mri;
pub mod pet;

/// Who a sample belongs to and how it is keyed.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// Input file as named in provenance (relative to the source root; scrubbed of the subject
    /// ID before it is written).
    pub file: String,
    /// Original subject ID (pseudonymised before use).
    pub subject: &'a str,
    /// Session label.
    pub session: Option<&'a str>,
    /// Run label that separates recordings of one session in the key (task, acquisition, run,
    /// TUH token).
    pub run: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A target for `rel` (relative to the source root; named with `/` separators).
    pub fn new(
        rel: &std::path::Path,
        subject: &'a str,
        session: Option<&'a str>,
        run: Option<&'a str>,
    ) -> Self {
        Target {
            file: rel.to_string_lossy().replace('\\', "/"),
            subject,
            session,
            run,
        }
    }
}
