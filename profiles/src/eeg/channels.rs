//! Channel sets of the EEG models, name matching and template positions.
//!
//! Names match case-insensitively after the old 10-20 aliases are folded onto the 10-10 names
//! (`T3`→`T7`, `T4`→`T8`, `T5`→`P7`, `T6`→`P8`; identical positions in the 10-05 template), so a
//! canonical recording that says `T7` feeds CBraMod's `T3` row.
//!
//! Positions and the alias folding come from [`bomdata_schemas::electrodes`] (the one 10-05
//! table, shared with the ingest).

use bomdata_schemas::electrodes;

/// CBraMod's 19 TUEG channels (`preprocessing_tueg_for_pretraining.py`).
pub const CBRAMOD_19: &[&str] = &[
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5",
    "T6", "FZ", "CZ", "PZ",
];

/// LaBraM's 23 TUAB/TUEV channels (`make_TUAB.py`).
pub const LABRAM_23: &[&str] = &[
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5",
    "T6", "A1", "A2", "FZ", "CZ", "PZ", "T1", "T2",
];

/// EEGPT's 58 pretraining channels (`prepare_pretrain_dataset.py`).
pub const EEGPT_58: &[&str] = &[
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7",
    "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2",
    "C4", "C6", "T8", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5",
    "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7", "PO3", "POZ", "PO4", "PO8", "O1", "OZ", "O2",
];

/// The 16-channel TCP bipolar montage of BIOT / CBraMod TUAB (old 10-20 names).
pub const TCP_16: &[&str] = &[
    "FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2", "FP1-F3", "F3-C3",
    "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
];

/// The comparison key of a channel name: upper case, `EEG ` prefix and `-REF`/`-LE` suffix
/// removed, PhysioNet dots removed, old 10-20 aliases folded.
pub fn key(name: &str) -> String {
    let mut s = name.trim().to_ascii_uppercase();
    if let Some(r) = s.strip_prefix("EEG ") {
        s = r.trim().to_string();
    }
    for suf in ["-REF", "-LE", "-AR"] {
        if let Some(r) = s.strip_suffix(suf) {
            s = r.to_string();
        }
    }
    s = s.trim_end_matches('.').to_string();
    electrodes::fold_old_name(&s).to_string()
}

/// A named channel set or a comma-separated list (`FP1,FP2` or bipolar `FP1-F7,F7-T3`).
pub fn resolve(spec: &str) -> Option<Vec<String>> {
    let list: &[&str] = match spec {
        "all" => return None,
        "cbramod19" => CBRAMOD_19,
        "labram23" => LABRAM_23,
        "eegpt58" => EEGPT_58,
        "tcp16" => TCP_16,
        other => {
            return Some(
                other
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            );
        }
    };
    Some(list.iter().map(|s| s.to_string()).collect())
}

/// Template position (mm, fsaverage 10-05) of a unipolar name, or of the midpoint of a bipolar
/// pair; NaN when unknown.
pub fn template_xyz(name: &str) -> [f64; 3] {
    if let Some((a, b)) = name.split_once('-') {
        let (pa, pb) = (template_xyz(a), template_xyz(b));
        return [0, 1, 2].map(|i| (pa[i] + pb[i]) / 2.0);
    }
    electrodes::position(&key(name)).unwrap_or([f64::NAN; 3])
}

/// Frame name of [`template_xyz`] positions.
pub const TEMPLATE_FRAME: &str = electrodes::FRAME;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets() {
        assert_eq!(CBRAMOD_19.len(), 19);
        assert_eq!(LABRAM_23.len(), 23);
        assert_eq!(EEGPT_58.len(), 58);
        assert_eq!(TCP_16.len(), 16);
        assert_eq!(key("EEG T3-REF"), "T7");
        assert_eq!(key("Fc5."), "FC5");
        assert!(template_xyz("T3")[0] < -80.0);
        assert!(template_xyz("A1")[0].is_nan());
    }
}
