//! Canonical metadata of the eeg modalities (`eeg/1`): scalp EEG, iEEG and MEG recordings.
//!
//! One canonical sample is one chunk of one recording: `signal.npy` (float32, `[channels,
//! samples]`, EEG/EOG/ECG/EMG in µV, other channels in their physical unit, native rate) plus
//! `meta.json`, a serialised [`Recording`]. Positions are millimetres with NaN (JSON `null`) for
//! unknown coordinates; the frame is named in [`Recording::coord_frame`].
//!
//! ```
//! use bomdata_schemas::eeg::{Channel, ChannelType, Recording, Reference};
//! let mut r = Recording::new(256.0);
//! r.channels.push(Channel {
//!     name: "FP1".into(),
//!     original_name: "EEG FP1-REF".into(),
//!     channel_type: ChannelType::Eeg,
//!     unit: "uV".into(),
//!     xyz_mm: [f64::NAN; 3],
//!     sensor: None,
//! });
//! r.reference = Reference::Average;
//! let json = serde_json::to_string(&r).unwrap();
//! assert!(json.contains(r#""xyz_mm":[null,null,null]"#));
//! let back: Recording = serde_json::from_str(&json).unwrap();
//! assert!(back.channels[0].xyz_mm[0].is_nan());
//! assert_eq!(back.schema, "eeg/1");
//! ```

use serde::{Deserialize, Serialize};

use crate::Provenance;

/// Schema version string of this module.
pub const VERSION: &str = "eeg/1";

/// Kind of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    /// Scalp or intracranial EEG.
    Eeg,
    /// Electro-oculogram.
    Eog,
    /// Electrocardiogram.
    Ecg,
    /// Electromyogram.
    Emg,
    /// Trigger / stimulus / event channel.
    Stim,
    /// Anything else (respiration, SpO2, photic, temperature, ...).
    Misc,
    /// MEG magnetometer (values in T).
    Mag,
    /// MEG gradiometer (values in T/m).
    Grad,
    /// MEG reference sensor (compensation channels).
    #[serde(rename = "ref_meg")]
    RefMeg,
}

impl ChannelType {
    /// Whether values of this type are stored in µV in canonical samples.
    pub fn is_biopotential(self) -> bool {
        matches!(
            self,
            ChannelType::Eeg | ChannelType::Eog | ChannelType::Ecg | ChannelType::Emg
        )
    }

    /// Whether this is an MEG sensor (magnetometer, gradiometer or reference).
    pub fn is_meg(self) -> bool {
        matches!(
            self,
            ChannelType::Mag | ChannelType::Grad | ChannelType::RefMeg
        )
    }
}

/// Geometry of an MEG sensor: its coil type and axes. The position is the channel's `xyz_mm`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sensor {
    /// FIFF coil type (3012 Vectorview planar gradiometer, 3024 Vectorview magnetometer, ...).
    pub coil_type: i32,
    /// Frame of `xyz_mm` and the axes: `head` (the device → head transformation of the
    /// recording applied) or `device` (none recorded, e.g. empty-room recordings).
    pub frame: String,
    /// Coil x axis, unit vector (planar gradiometers: the gradient direction).
    pub ex: [f64; 3],
    /// Coil y axis, unit vector.
    pub ey: [f64; 3],
    /// Coil z axis (normal), unit vector.
    pub ez: [f64; 3],
}

/// The reference of a recording's EEG channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Reference {
    /// Averaged reference (TUH `-REF`, `01_tcp_ar`).
    Average,
    /// Linked ears (TUH `-LE`, `02_tcp_le`).
    LinkedEars,
    /// Bipolar derivations (`FP1-F7`).
    Bipolar,
    /// A named common reference electrode (e.g. `Cz`, `M1`).
    Common(String),
    /// Not known.
    Unknown,
}

/// One channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Normalised name (upper-case 10-05 name for EEG electrodes, e.g. `FP1`, `T7`;
    /// `FP1-F7` for bipolar derivations).
    pub name: String,
    /// The label as stored in the file.
    pub original_name: String,
    /// Channel kind.
    #[serde(rename = "type")]
    pub channel_type: ChannelType,
    /// Unit of the stored values (`uV` for biopotentials, else the file's physical unit).
    pub unit: String,
    /// Position in millimetres in [`Recording::coord_frame`]; NaN (JSON null) when unknown.
    #[serde(with = "nan_as_null")]
    pub xyz_mm: [f64; 3],
    /// MEG sensor geometry (MEG channels of files that record it); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<Sensor>,
}

/// One annotation, relative to the start of the chunk it is stored with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// Onset in seconds from the start of the chunk (may be negative for an event that began
    /// before the chunk and lasts into it).
    pub onset_s: f64,
    /// Duration in seconds, `None` for an instant.
    pub duration_s: Option<f64>,
    /// Label or text.
    pub text: String,
}

/// Where a chunk sits in its recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0-based chunk index.
    pub index: u32,
    /// Number of chunks the recording was split into.
    pub count: u32,
    /// Time of the chunk's first sample, seconds from the recording start.
    pub offset_s: f64,
    /// Duration of the chunk in seconds.
    pub duration_s: f64,
}

/// Canonical metadata of one recording chunk (`meta.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// Always [`VERSION`].
    pub schema: String,
    /// `eeg`, `ieeg` or `meg`.
    pub modality: crate::Modality,
    /// Samples per second (all channels of the sample share it).
    pub sampling_rate: f64,
    /// Samples per channel in this chunk.
    pub n_samples: u64,
    /// Channels, in the row order of `signal.npy`.
    pub channels: Vec<Channel>,
    /// Reference of the EEG channels.
    pub reference: Reference,
    /// Montage or configuration label of the source (TUH folder `01_tcp_ar`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub montage: Option<String>,
    /// Power-line frequency in Hz (50/60) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_line_hz: Option<f64>,
    /// Frame of `xyz_mm` (e.g. `fsaverage_1005`: template positions looked up by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coord_frame: Option<String>,
    /// Recording start (ISO 8601 local), only when identity is kept; otherwise absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Position of this chunk in the recording.
    pub chunk: Chunk,
    /// Annotations overlapping the chunk, onsets relative to the chunk start.
    pub annotations: Vec<Annotation>,
    /// How many of `annotations` had their text dropped as free text (replaced by `n/a`; onset
    /// and duration kept) by the ingest's allow-list policy; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub free_text_dropped: u64,
    /// Where the values came from.
    pub provenance: Option<Provenance>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Recording {
    /// An empty EEG recording at `sampling_rate`, one chunk, unknown reference.
    pub fn new(sampling_rate: f64) -> Self {
        Recording {
            schema: VERSION.to_string(),
            modality: crate::Modality::Eeg,
            sampling_rate,
            n_samples: 0,
            channels: Vec::new(),
            reference: Reference::Unknown,
            montage: None,
            power_line_hz: None,
            coord_frame: None,
            start: None,
            chunk: Chunk {
                index: 0,
                count: 1,
                offset_s: 0.0,
                duration_s: 0.0,
            },
            annotations: Vec::new(),
            free_text_dropped: 0,
            provenance: None,
        }
    }
}

mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64; 3], s: S) -> Result<S::Ok, S::Error> {
        let o: [Option<f64>; 3] = v.map(|x| x.is_finite().then_some(x));
        o.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 3], D::Error> {
        let o = <[Option<f64>; 3]>::deserialize(d)?;
        Ok(o.map(|x| x.unwrap_or(f64::NAN)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_json() {
        assert_eq!(
            serde_json::to_string(&Reference::Average).unwrap(),
            r#"{"kind":"average"}"#
        );
        assert_eq!(
            serde_json::to_string(&Reference::Common("Cz".into())).unwrap(),
            r#"{"kind":"common","name":"Cz"}"#
        );
        assert_eq!(
            serde_json::to_string(&ChannelType::Stim).unwrap(),
            r#""stim""#
        );
    }
}
