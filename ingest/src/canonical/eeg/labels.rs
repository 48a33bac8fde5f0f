//! Channel labels: names, types, units, positions and references.
//!
//! - [`normalize`]: `EEG FP1-REF` → `FP1` (reference suffix `REF`), PhysioNet `Fc5.` → `FC5`,
//!   old 10-20 names `T3/T4/T5/T6` → `T7/T8/P7/P8`, bipolar `Fp1-F7` → `FP1-F7`;
//! - [`infer_type`]: EEG, EOG, ECG, EMG, stim or misc from the label;
//! - [`position_mm`]: standard 10-05 positions in mm ([`bomdata_schemas::electrodes`]; bipolar
//!   channels get the midpoint);
//! - [`detect_reference`]: AR / LE / bipolar from a TUH montage folder or the labels;
//! - [`uv_factor`]: the multiplier from a physical unit to µV.

use bomdata_schemas::eeg::{ChannelType, Reference};
use bomdata_schemas::electrodes::{self, fold_old_name};

/// A channel label taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// Canonical upper-case name: one electrode (`FP1`) or a derivation (`FP1-F7`).
    pub name: String,
    /// The reference suffix that was removed (`REF`, `LE`, `AR`, `AVG`), upper-case.
    pub reference: Option<String>,
    /// The two electrodes of a bipolar derivation.
    pub bipolar: Option<(String, String)>,
    /// The type prefix that was removed (`EEG`, `EOG`, `ECG`, `EMG`, ...), upper-case.
    pub prefix: Option<String>,
}

const PREFIXES: [&str; 9] = [
    "EEG", "EOG", "ECG", "EKG", "EMG", "MEG", "SEEG", "ECOG", "POL",
];
const REF_SUFFIXES: [&str; 5] = ["REF", "LE", "AR", "AVG", "CAR"];
/// Reference sites that are electrodes for bipolar purposes but have no 10-05 position.
const EAR_SITES: [&str; 4] = ["A1", "A2", "M1", "M2"];

fn is_site(n: &str) -> bool {
    electrodes::position(n).is_some() || EAR_SITES.contains(&n)
}

/// Normalises a channel label.
///
/// ```
/// use bomdata_ingest::canonical::eeg::normalize;
/// assert_eq!(normalize("EEG FP1-REF").name, "FP1");
/// assert_eq!(normalize("EEG T3-LE").name, "T7");
/// assert_eq!(normalize("EEG T3-LE").reference.as_deref(), Some("LE"));
/// assert_eq!(normalize("Fc5.").name, "FC5");
/// assert_eq!(normalize("Fp1-F7").name, "FP1-F7");
/// assert_eq!(normalize("EEG Fpz-Cz").bipolar, Some(("FPZ".into(), "CZ".into())));
/// assert_eq!(normalize("t6").name, "P8");
/// ```
pub fn normalize(label: &str) -> Normalized {
    let mut s = label
        .trim()
        .trim_end_matches('.')
        .trim()
        .to_ascii_uppercase();
    let mut prefix = None;
    for p in PREFIXES {
        if let Some(rest) = s.strip_prefix(p)
            && let Some(rest) = rest.strip_prefix(' ')
            && !rest.trim().is_empty()
        {
            prefix = Some(p.to_string());
            s = rest.trim().to_string();
            break;
        }
    }
    let mut reference = None;
    let mut bipolar = None;
    if let Some((a, b)) = s.rsplit_once('-') {
        let (a, b) = (a.trim(), b.trim());
        if REF_SUFFIXES.contains(&b) && !a.is_empty() {
            reference = Some(b.to_string());
            s = a.to_string();
        } else {
            let (na, nb) = (fold_old_name(a), fold_old_name(b));
            if is_site(na) && is_site(nb) {
                bipolar = Some((na.to_string(), nb.to_string()));
                s = format!("{na}-{nb}");
            }
        }
    }
    if bipolar.is_none() {
        s = fold_old_name(&s).to_string();
    }
    Normalized {
        name: s,
        reference,
        bipolar,
        prefix,
    }
}

/// Infers the channel type from a label (and its normalised form).
///
/// ```
/// use bomdata_ingest::canonical::eeg::infer_type;
/// use bomdata_schemas::eeg::ChannelType;
/// assert_eq!(infer_type("EEG FP1-REF"), ChannelType::Eeg);
/// assert_eq!(infer_type("EEG ROC-REF"), ChannelType::Eog);
/// assert_eq!(infer_type("EKG1"), ChannelType::Ecg);
/// assert_eq!(infer_type("EMG submental"), ChannelType::Emg);
/// assert_eq!(infer_type("Status"), ChannelType::Stim);
/// assert_eq!(infer_type("Resp oro-nasal"), ChannelType::Misc);
/// assert_eq!(infer_type("Fc5."), ChannelType::Eeg);
/// ```
pub fn infer_type(label: &str) -> ChannelType {
    let up = label.trim().to_ascii_uppercase();
    let n = normalize(label);
    let has = |k: &str| up.contains(k);
    let word = |k: &str| {
        up.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
            w == k || (w.starts_with(k) && w[k.len()..].bytes().all(|b| b.is_ascii_digit()))
        })
    };
    if has("EOG")
        || word("LOC")
        || word("ROC")
        || word("HEOG")
        || word("VEOG")
        || word("HEO")
        || word("VEO")
    {
        return ChannelType::Eog;
    }
    if has("ECG") || has("EKG") {
        return ChannelType::Ecg;
    }
    if has("EMG") || word("CHIN") || word("LEG") {
        return ChannelType::Emg;
    }
    if word("STI") || has("TRIG") || word("STATUS") || has("EVENT") || has("MARKER") || word("STIM")
    {
        return ChannelType::Stim;
    }
    if n.bipolar.is_some() || is_site(&n.name) {
        return ChannelType::Eeg;
    }
    let eeg_word = up.starts_with("EEG") && !up[3..].starts_with(|c: char| c.is_ascii_alphabetic());
    if (n.prefix.as_deref() == Some("EEG") || eeg_word) && !has("RESP") && !has("PHOTIC") {
        return ChannelType::Eeg;
    }
    ChannelType::Misc
}

/// Standard position of a normalised name in mm (NaN when unknown); a bipolar derivation gets
/// the midpoint of its two electrodes.
pub fn position_mm(n: &Normalized) -> [f64; 3] {
    let nan = [f64::NAN; 3];
    match &n.bipolar {
        Some((a, b)) => match (electrodes::position(a), electrodes::position(b)) {
            (Some(p), Some(q)) => [
                (p[0] + q[0]) / 2.0,
                (p[1] + q[1]) / 2.0,
                (p[2] + q[2]) / 2.0,
            ],
            _ => nan,
        },
        None => electrodes::position(&n.name).unwrap_or(nan),
    }
}

/// Multiplier from a physical unit to µV, `None` when the unit is not a voltage.
///
/// ```
/// use bomdata_ingest::canonical::eeg::uv_factor;
/// assert_eq!(uv_factor("uV"), Some(1.0));
/// assert_eq!(uv_factor("µV"), Some(1.0));
/// assert_eq!(uv_factor("mV"), Some(1e3));
/// assert_eq!(uv_factor("V"), Some(1e6));
/// assert_eq!(uv_factor("nV"), Some(1e-3));
/// assert_eq!(uv_factor("%"), None);
/// ```
pub fn uv_factor(unit: &str) -> Option<f64> {
    match unit.trim() {
        "uV" | "µV" | "μV" | "UV" | "microV" | "microvolt" | "microvolts" => Some(1.0),
        "mV" | "MV" | "millivolt" | "millivolts" => Some(1e3),
        "V" | "v" | "volt" | "volts" => Some(1e6),
        "nV" | "NV" | "nanovolt" | "nanovolts" => Some(1e-3),
        _ => None,
    }
}

/// The reference of a recording: from a TUH montage folder name when given (`01_tcp_ar`,
/// `03_tcp_ar_a` → average, `02_tcp_le` → linked ears), else from the EEG labels' suffixes
/// (`-REF` → average as in TUH, `-LE` → linked ears, `-AR`/`-AVG`/`-CAR` → average), else
/// bipolar when every EEG channel is a derivation, else unknown.
///
/// ```
/// use bomdata_ingest::canonical::eeg::detect_reference;
/// use bomdata_schemas::eeg::Reference;
/// assert_eq!(detect_reference(&["EEG FP1-LE", "EEG FP2-LE"], None), Reference::LinkedEars);
/// assert_eq!(detect_reference(&["EEG FP1-REF"], Some("01_tcp_ar")), Reference::Average);
/// assert_eq!(detect_reference(&["Fp1-F7", "F7-T3"], None), Reference::Bipolar);
/// assert_eq!(detect_reference(&["Fp1", "Fp2"], None), Reference::Unknown);
/// ```
pub fn detect_reference(labels: &[&str], montage: Option<&str>) -> Reference {
    if let Some(m) = montage {
        let m = m.to_ascii_lowercase();
        if m.contains("tcp_le") {
            return Reference::LinkedEars;
        }
        if m.contains("tcp_ar") {
            return Reference::Average;
        }
    }
    let eeg: Vec<Normalized> = labels
        .iter()
        .filter(|l| infer_type(l) == ChannelType::Eeg)
        .map(|l| normalize(l))
        .collect();
    if eeg.is_empty() {
        return Reference::Unknown;
    }
    let count = |suffixes: &[&str]| {
        eeg.iter()
            .filter(|n| {
                n.reference
                    .as_deref()
                    .is_some_and(|r| suffixes.contains(&r))
            })
            .count()
    };
    let half = eeg.len().div_ceil(2);
    if count(&["LE"]) >= half {
        return Reference::LinkedEars;
    }
    if count(&["REF", "AR", "AVG", "CAR"]) >= half {
        return Reference::Average;
    }
    if eeg.iter().all(|n| n.bipolar.is_some()) {
        return Reference::Bipolar;
    }
    Reference::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuh_labels() {
        let cases = [
            ("EEG FP1-REF", "FP1", Some("REF")),
            ("EEG FP2-LE", "FP2", Some("LE")),
            ("EEG T5-REF", "P7", Some("REF")),
            ("EEG T4-LE", "T8", Some("LE")),
            ("EEG CZ-REF", "CZ", Some("REF")),
            ("EEG 20-REF", "20", Some("REF")),
            ("PHOTIC-REF", "PHOTIC", Some("REF")),
        ];
        for (label, name, r) in cases {
            let n = normalize(label);
            assert_eq!(n.name, name, "{label}");
            assert_eq!(n.reference.as_deref(), r, "{label}");
        }
    }

    #[test]
    fn physionet_and_case() {
        assert_eq!(normalize("Fc5.").name, "FC5");
        assert_eq!(normalize("Fp1..").name, "FP1");
        assert_eq!(normalize("Afz.").name, "AFZ");
        assert_eq!(normalize("  oz ").name, "OZ");
        assert_eq!(normalize("AFF1h").name, "AFF1H");
    }

    #[test]
    fn bipolar_and_positions() {
        let n = normalize("EEG T3-T5");
        assert_eq!(n.name, "T7-P7");
        let mid = position_mm(&n);
        let (a, b) = (
            electrodes::position("T7").unwrap(),
            electrodes::position("P7").unwrap(),
        );
        assert!((mid[1] - (a[1] + b[1]) / 2.0).abs() < 1e-9);
        assert!(position_mm(&normalize("EEG A1-REF"))[0].is_nan());
        assert_eq!(normalize("C3-A2").bipolar, Some(("C3".into(), "A2".into())));
        // T3 and T7 name the same site.
        assert_eq!(position_mm(&normalize("T3")), position_mm(&normalize("T7")));
    }

    #[test]
    fn types() {
        use ChannelType::*;
        for (label, t) in [
            ("EEG FP1-REF", Eeg),
            ("EEG LOC-REF", Eog),
            ("EOG horizontal", Eog),
            ("EKG", Ecg),
            ("ECG", Ecg),
            ("EMG-REF", Emg),
            ("EMG submental", Emg),
            ("STI 014", Stim),
            ("Event marker", Stim),
            ("Status", Stim),
            ("Resp oro-nasal", Misc),
            ("Temp rectal", Misc),
            ("IBI", Misc),
            ("BURSTS", Misc),
            ("EEG 20-REF", Eeg),
            ("PHOTIC-REF", Misc),
            ("Cz", Eeg),
            ("EEG Fpz-Cz", Eeg),
            ("EEG(sec)", Eeg),
            ("EEG", Eeg),
            ("EEG2", Eeg),
            ("EEGX", Misc),
        ] {
            assert_eq!(infer_type(label), t, "{label}");
        }
    }
}
