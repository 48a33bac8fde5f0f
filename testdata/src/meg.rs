//! A synthetic BIDS MEG tree made of the real FIF files of the repository.
//!
//! [`bids_meg_tree`] lays out (bytes copied, never modified):
//! - `sub-01/meg/sub-01_task-rest_meg.fif`: the Vectorview empty-room fixture
//!   (`tests/fixtures/fif/test_move_anon_erm_raw.fif`, 1 s at 1200 Hz, no device → head
//!   transformation), with `_meg.json`, a `_channels.tsv` for a few channels (one marked bad) and
//!   a T1w in `anat/` (from `examples/bids-mini`), so the tree is a mixed MEG + MRI dataset;
//! - `sub-02/ses-1/meg/sub-02_ses-1_task-rest_meg.fif`: `tests/meg/devhead_raw.fif` (the same
//!   sensors, 24 samples, with a device → head transformation), inheriting the top-level
//!   `task-rest_meg.json`;
//! - `dataset_description.json`, `participants.tsv`.

use std::path::Path;

use crate::files::{put, write};
use crate::{fixtures, workspace_root};

/// The recording of `sub-01` (relative path).
pub const SUB01_MEG: &str = "sub-01/meg/sub-01_task-rest_meg.fif";
/// The recording of `sub-02` (relative path).
pub const SUB02_MEG: &str = "sub-02/ses-1/meg/sub-02_ses-1_task-rest_meg.fif";
/// The channel `_channels.tsv` marks bad in `sub-01`.
pub const BAD_CHANNEL: &str = "MEG2443";

/// Writes the tree under `root`.
pub fn bids_meg_tree(root: &Path) {
    put(
        root,
        "dataset_description.json",
        r#"{"Name": "synthetic MEG", "BIDSVersion": "1.9.0", "DatasetType": "raw"}"#,
    );
    put(
        root,
        "participants.tsv",
        "participant_id\tage\nsub-01\t30\nsub-02\t41\n",
    );
    put(
        root,
        "task-rest_meg.json",
        r#"{"TaskName": "rest", "SamplingFrequency": 1200, "PowerLineFrequency": 50, "DewarPosition": "upright", "SoftwareFilters": "n/a", "DigitizedLandmarks": false, "DigitizedHeadPoints": false}"#,
    );
    copy(
        &fixtures().join("fif/test_move_anon_erm_raw.fif"),
        &root.join(SUB01_MEG),
    );
    put(
        root,
        "sub-01/meg/sub-01_task-rest_channels.tsv",
        format!(
            "name\ttype\tunits\tstatus\nMEG0113\tMEGGRADPLANAR\tT/m\tgood\nMEG0111\tMEGMAG\tT\tgood\n{BAD_CHANNEL}\tMEGGRADPLANAR\tT/m\tbad\nEEG001\tEEG\tV\tgood\n"
        ),
    );
    copy(
        &workspace_root().join("examples/bids-mini/sub-01/anat/sub-01_T1w.nii"),
        &root.join("sub-01/anat/sub-01_T1w.nii"),
    );
    copy(
        &workspace_root().join("tests/meg/devhead_raw.fif"),
        &root.join(SUB02_MEG),
    );
}

/// Copies `from` to `to` (parents created); panics naming the file on failure.
#[allow(clippy::panic)]
fn copy(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    write(to, bytes);
}
