//! Synthetic EEG trees in the consortium layouts (TUEG, NSRR, BIDS EEG/iEEG) and the BrainVision
//! writer they use.

use std::path::Path;

use crate::edf::{Annotation, EdfSpec, Plus, SignalSpec, edf_bytes, ramp};
use crate::files::{put, truncate_by, write};

/// BrainVision value of channel `c` at sample `k` (INT_16).
pub fn bv_value(c: usize, k: usize) -> i16 {
    k as i16 - 100 + 10 * c as i16
}

/// Writes a BrainVision triplet: INT_16 multiplexed, `n` samples at 250 Hz; channel `c` sample
/// `k` stores [`bv_value`]; one stimulus marker at sample 125 (onset 0.5 s). Channels are
/// (name, resolution, unit).
#[allow(clippy::panic)]
pub fn write_brainvision(vhdr: &Path, channels: &[(&str, f64, &str)], n: usize) {
    let Some(stem) = vhdr.file_stem().and_then(|s| s.to_str()) else {
        panic!("{}: no file stem", vhdr.display());
    };
    let mut h = format!(
        "Brain Vision Data Exchange Header File Version 1.0\n; written by a test\n\n[Common Infos]\nCodepage=UTF-8\nDataFile={stem}.eeg\nMarkerFile={stem}.vmrk\nDataFormat=BINARY\nDataOrientation=MULTIPLEXED\nNumberOfChannels={}\nSamplingInterval=4000\n\n[Binary Infos]\nBinaryFormat=INT_16\n\n[Channel Infos]\n",
        channels.len()
    );
    for (i, (name, res, unit)) in channels.iter().enumerate() {
        h.push_str(&format!("Ch{}={name},,{res},{unit}\n", i + 1));
    }
    write(vhdr, h);
    let mut data = Vec::new();
    for k in 0..n {
        for c in 0..channels.len() {
            data.extend_from_slice(&bv_value(c, k).to_le_bytes());
        }
    }
    write(&vhdr.with_extension("eeg"), data);
    write(
        &vhdr.with_extension("vmrk"),
        format!(
            "Brain Vision Data Exchange Marker File Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\nDataFile={stem}.eeg\n\n[Marker Infos]\nMk1=New Segment,,1,1,0,20200101120000000000\nMk2=Stimulus,S  1,126,1,0\n"
        ),
    );
}

/// Writes an EDF of [`ramp`] values.
pub fn write_edf(path: &Path, spec: &EdfSpec<'_>) {
    write(path, edf_bytes(spec, ramp));
}

/// The TUH `01_tcp_ar` montage of the TUEG tree: four data channels at 250 Hz, PHOTIC at 125 Hz.
pub const TUH_AR: [SignalSpec<'static>; 5] = [
    ("EEG FP1-REF", "uV", 250),
    ("EEG T3-REF", "uV", 250),
    ("EEG CZ-REF", "uV", 250),
    ("EKG1-REF", "mV", 250),
    ("PHOTIC-REF", "uV", 125),
];

const TUH_PATIENT: &str = "0123456 M 02-MAR-1951 Jane_Doe";

/// A TUEG tree's readable recordings: an EDF+C `01_tcp_ar` file (10 s, a `seiz` annotation at
/// 9.5 s), a plain `02_tcp_le` file (2 channels at 256 Hz) and a TUEV `.rec` event file.
pub fn tueg_recordings(root: &Path) {
    let anns = [Annotation {
        onset: 9.5,
        duration: Some(1.0),
        text: "seiz".into(),
    }];
    write_edf(
        &root.join("edf/train/normal/01_tcp_ar/aaaaamye_s001_t000.edf"),
        &EdfSpec {
            plus: Plus::Continuous,
            patient: TUH_PATIENT,
            signals: &TUH_AR,
            annotations: &anns,
            ..EdfSpec::default()
        },
    );
    let le = [("EEG FP1-LE", "uV", 256), ("EEG T5-LE", "uV", 256)];
    write_edf(
        &root.join("edf/eval/abnormal/02_tcp_le/aaaaabbb_s002_t001.edf"),
        &EdfSpec {
            patient: TUH_PATIENT,
            signals: &le,
            ..EdfSpec::default()
        },
    );
    // TUEV event file: CSV, not an EDF.
    put(
        root,
        "edf/train/normal/01_tcp_ar/aaaaamye_s001_t000.rec",
        "0,1.0,2.0,6\n",
    );
}

/// [`tueg_recordings`] plus a TUSZ-layout file truncated by a whole record (refused alone).
pub fn tueg_tree(root: &Path) {
    tueg_recordings(root);
    let le = [("EEG FP1-LE", "uV", 256), ("EEG T5-LE", "uV", 256)];
    let p = root.join("edf/dev/aaaaaccc/s001_2002_01_01/03_tcp_ar_a/aaaaaccc_s001_t000.edf");
    write_edf(
        &p,
        &EdfSpec {
            patient: TUH_PATIENT,
            signals: &le,
            ..EdfSpec::default()
        },
    );
    truncate_by(&p, 1024);
}

/// An EDF+D TUEG file `01_tcp_ar/aaaaaddd_s001_t000.edf`: one 100 Hz channel, records at
/// 0.5, 1.5, 2.5, 10.5 and 11.5 s.
pub fn tueg_discontinuous(root: &Path) {
    write_edf(
        &root.join("01_tcp_ar/aaaaaddd_s001_t000.edf"),
        &EdfSpec {
            plus: Plus::Discontinuous,
            patient: TUH_PATIENT,
            signals: &[("EEG C3-REF", "uV", 100)],
            onsets: Some(&[0.5, 1.5, 2.5, 10.5, 11.5]),
            ..EdfSpec::default()
        },
    );
}

/// The 19 electrodes of the 10-20 system in TUH spelling.
pub const TEN_TWENTY: [&str; 19] = [
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ", "C4", "T4", "T5", "P3", "PZ",
    "P4", "T6", "O1", "O2",
];

/// A TUEG tree long enough for every EEG profile: `subjects` plain EDF recordings in
/// `01_tcp_ar` with the 19 10-20 electrodes (`EEG <name>-REF`, µV) at 250 Hz for `seconds`
/// seconds, values a seeded noise of ±25 µV plus a per-channel triangle wave.
pub fn tueg_long_tree(root: &Path, subjects: usize, seconds: usize) {
    let labels: Vec<String> = TEN_TWENTY.iter().map(|e| format!("EEG {e}-REF")).collect();
    let signals: Vec<SignalSpec<'_>> = labels.iter().map(|l| (l.as_str(), "uV", 250)).collect();
    for s in 0..subjects {
        let mut rng = crate::Rng::new(1000 + s as u64);
        let n = seconds * 250;
        let noise: Vec<i32> = (0..n * signals.len())
            .map(|_| rng.below(501) as i32 - 250)
            .collect();
        let value = |c: usize, k: usize| {
            let period = 50 + 10 * c;
            let phase = (k % period) as i32;
            let tri = (phase - period as i32 / 2).abs() * 8;
            noise[c * n + k] + tri - 100
        };
        let name = format!("aaaaa{:03}", s);
        write(
            &root.join(format!("edf/train/normal/01_tcp_ar/{name}_s001_t000.edf")),
            edf_bytes(
                &EdfSpec {
                    patient: TUH_PATIENT,
                    signals: &signals,
                    n_records: seconds,
                    ..EdfSpec::default()
                },
                value,
            ),
        );
    }
}

/// NSRR annotation XML (Compumedics profusion export) of the NSRR tree.
pub const NSRR_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<PSGAnnotation><SoftwareVersion>Compumedics</SoftwareVersion><EpochLength>30</EpochLength>
<ScoredEvents>
<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start><Duration>10.0</Duration><ClockTime>00.00.00 07.08.09</ClockTime></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept><Start>0</Start><Duration>5.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 2 sleep|2</EventConcept><Start>5</Start><Duration>5.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Respiratory|Respiratory</EventType><EventConcept>Obstructive apnea|Obstructive Apnea</EventConcept><Start>6.5</Start><Duration>2.5</Duration><SignalLocation>ABDO RES</SignalLocation></ScoredEvent>
</ScoredEvents></PSGAnnotation>
"#;

/// An NSRR (SHHS) tree: two 10 s EDFs (two EEG at 125 Hz, ECG at 250 Hz, SaO2 at 1 Hz) with
/// their NSRR XML annotations, the second in the translator's `Starttime` spelling.
pub fn nsrr_tree(root: &Path) {
    let sig = [
        ("EEG(sec)", "uV", 125),
        ("EEG", "uV", 125),
        ("ECG", "mV", 250),
        ("SaO2", "%", 1),
    ];
    let spec = EdfSpec {
        patient: TUH_PATIENT,
        signals: &sig,
        ..EdfSpec::default()
    };
    write_edf(
        &root.join("polysomnography/edfs/shhs1/shhs1-200001.edf"),
        &spec,
    );
    put(
        root,
        "polysomnography/annotations-events-nsrr/shhs1/shhs1-200001-nsrr.xml",
        NSRR_XML,
    );
    write_edf(
        &root.join("polysomnography/edfs/shhs1/shhs1-200002.edf"),
        &spec,
    );
    put(
        root,
        "polysomnography/annotations-events-nsrr/shhs1/shhs1-200002-nsrr.xml",
        NSRR_XML
            .replace("<Start>", "<Starttime>")
            .replace("</Start>", "</Starttime>"),
    );
}

/// The EDF recording of the BIDS EEG tree.
pub const BIDS_EDF_REC: &str = "sub-NDARAA111/eeg/sub-NDARAA111_task-rest_eeg.edf";
/// The BrainVision EEG recording of the BIDS EEG tree.
pub const BIDS_BV_REC: &str =
    "sub-NDARBB222/ses-1/eeg/sub-NDARBB222_ses-1_task-rest_run-1_eeg.vhdr";
/// The BrainVision iEEG recording of the BIDS EEG tree.
pub const BIDS_IEEG_REC: &str = "sub-NDARBB222/ses-1/ieeg/sub-NDARBB222_ses-1_task-rest_ieeg.vhdr";
/// The truncated EDF of the BIDS EEG tree.
pub const BIDS_BROKEN_REC: &str = "sub-NDARCC333/eeg/sub-NDARCC333_task-rest_eeg.edf";

/// A 10-record plain EDF of the BIDS tree, with identity text in its header.
pub fn bids_edf(path: &Path, signals: &[SignalSpec<'_>]) {
    write_edf(
        path,
        &EdfSpec {
            start: (2019, 5, 6, 7, 8, 9),
            patient: "NDARAA111 F 02-MAR-2011 Jane_Doe",
            recording: "Startdate 06-MAY-2019 secret-site",
            signals,
            ..EdfSpec::default()
        },
    );
}

/// A BIDS EEG/iEEG tree's readable recordings with their sidecars: an EDF with channels.tsv,
/// electrodes, coordsystem and events; a BrainVision EEG recording inheriting the top-level
/// sidecar; a BrainVision iEEG recording with its own sidecars; and files that are not
/// recordings (a derivative, a suffix that does not match its folder).
pub fn bids_eeg_recordings(root: &Path) {
    put(
        root,
        "dataset_description.json",
        r#"{"Name": "synthetic", "BIDSVersion": "1.9.0"}"#,
    );
    // Top-level sidecar inherited by every task-rest EEG recording.
    put(
        root,
        "task-rest_eeg.json",
        r#"{"TaskName": "rest", "SamplingFrequency": 256, "PowerLineFrequency": 60, "EEGReference": "Cz"}"#,
    );
    put(
        root,
        "participants.tsv",
        "participant_id\tage\nsub-NDARAA111\t8\n",
    );
    bids_edf(
        &root.join(BIDS_EDF_REC),
        &[
            ("Fp1", "uV", 256),
            ("T3", "mV", 256),
            ("EOG1", "uV", 256),
            ("Pz", "uV", 256),
            ("Resp", "", 64),
        ],
    );
    let d = "sub-NDARAA111/eeg";
    put(
        root,
        &format!("{d}/sub-NDARAA111_task-rest_channels.tsv"),
        "name\ttype\tunits\tlow_cutoff\tstatus\nFp1\tEEG\tµV\t0.1\tgood\nT3\tEEG\tmV\t0.1\tgood\nEOG1\tVEOG\tµV\tn/a\tgood\nPz\tEEG\tµV\t0.1\tbad\nResp\tRESP\tn/a\tn/a\tgood\n",
    );
    put(
        root,
        &format!("{d}/sub-NDARAA111_space-CapTrak_electrodes.tsv"),
        "name\tx\ty\tz\nFp1\t-0.03\t0.08\t0.02\nT3\tn/a\tn/a\tn/a\nPz\t0\t-0.06\t0.09\n",
    );
    put(
        root,
        &format!("{d}/sub-NDARAA111_space-CapTrak_coordsystem.json"),
        r#"{"EEGCoordinateSystem": "CapTrak", "EEGCoordinateUnits": "m"}"#,
    );
    put(
        root,
        &format!("{d}/sub-NDARAA111_task-rest_events.tsv"),
        "onset\tduration\ttrial_type\tvalue\n1.5\t0.5\tstim\t12\n5.0\tn/a\tresp\tn/a\n9.5\t1.0\tn/a\tend\n",
    );
    write_brainvision(
        &root.join(BIDS_BV_REC),
        &[("Fp2", 0.5, "µV"), ("Cz", 0.5, "µV"), ("ECG", 0.1, "mV")],
        500,
    );
    write_brainvision(
        &root.join(BIDS_IEEG_REC),
        &[("LA1", 1.0, "µV"), ("T3", 1.0, "µV")],
        300,
    );
    let d = "sub-NDARBB222/ses-1/ieeg";
    put(
        root,
        &format!("{d}/sub-NDARBB222_ses-1_task-rest_ieeg.json"),
        r#"{"SamplingFrequency": 250, "PowerLineFrequency": 50, "iEEGReference": "bipolar"}"#,
    );
    put(
        root,
        &format!("{d}/sub-NDARBB222_ses-1_electrodes.tsv"),
        "name\tx\ty\tz\tsize\tgroup\nLA1\t-20.5\t10\t5\t4\tD\nT3\t-60\t-10\t0\t4\tG\n",
    );
    put(
        root,
        &format!("{d}/sub-NDARBB222_ses-1_coordsystem.json"),
        r#"{"iEEGCoordinateSystem": "ACPC", "iEEGCoordinateUnits": "mm"}"#,
    );
    put(
        root,
        &format!("{d}/sub-NDARBB222_ses-1_task-rest_channels.tsv"),
        "name\ttype\tunits\tstatus\nLA1\tSEEG\tµV\tgood\nT3\tECOG\tµV\tgood\n",
    );
    // Not recordings: a derivative, a suffix that does not match its folder.
    bids_edf(
        &root.join("derivatives/clean/sub-NDARAA111/eeg/sub-NDARAA111_task-rest_eeg.edf"),
        &[("Fp1", "uV", 256)],
    );
    put(
        root,
        "sub-NDARAA111/eeg/sub-NDARAA111_task-rest_ieeg.edf",
        b"x",
    );
}

/// [`bids_eeg_recordings`] plus a truncated EDF ([`BIDS_BROKEN_REC`], refused alone).
pub fn bids_eeg_tree(root: &Path) {
    bids_eeg_recordings(root);
    let p = root.join(BIDS_BROKEN_REC);
    bids_edf(&p, &[("Fp1", "uV", 256)]);
    truncate_by(&p, 700);
}

/// The identifying strings written into [`bids_eeg_identity_tree`]: session labels that are
/// dates, original subject IDs, and names in `events.tsv` and EDF+ annotations. None of them may
/// reach a shareable output of an ingest without `--keep-identity`/`--keep-free-text`.
pub const IDENTITY_STRINGS: &[&str] = &[
    "20240105",
    "2024-01-05",
    "baseline20240612",
    "20240612",
    "NDARSMITHJOHN",
    "NDARDOEJANE",
    "Margaret Hamilton",
    "Jane Roe",
    "Dr Octavius",
];

/// A BIDS EEG tree full of identity (see [`IDENTITY_STRINGS`]): subject `NDARSMITHJOHN` with
/// sessions `20240105` (EDF+C whose annotations name a person) and `baseline20240612`
/// (BrainVision with an `events.tsv` naming people beside controlled codes); subject
/// `NDARDOEJANE` with session `2024-01-05` (EDF+C, names in annotations and header).
pub fn bids_eeg_identity_tree(root: &Path) {
    put(
        root,
        "dataset_description.json",
        r#"{"Name": "identity", "BIDSVersion": "1.9.0"}"#,
    );
    put(
        root,
        "participants.tsv",
        "participant_id\tage\nsub-NDARSMITHJOHN\t8\nsub-NDARDOEJANE\t9\n",
    );
    let anns = [
        Annotation {
            onset: 1.0,
            duration: Some(0.5),
            text: "Margaret Hamilton entered the room".into(),
        },
        Annotation {
            onset: 2.0,
            duration: None,
            text: "T1".into(),
        },
        Annotation {
            onset: 3.0,
            duration: None,
            text: "Eyes closed".into(),
        },
    ];
    for (sub, ses, patient) in [
        (
            "NDARSMITHJOHN",
            "20240105",
            "NDARSMITHJOHN M 02-MAR-2011 Margaret_Hamilton",
        ),
        (
            "NDARDOEJANE",
            "2024-01-05",
            "NDARDOEJANE F 02-MAR-2012 Jane_Roe",
        ),
    ] {
        write_edf(
            &root.join(format!(
                "sub-{sub}/ses-{ses}/eeg/sub-{sub}_ses-{ses}_task-rest_eeg.edf"
            )),
            &EdfSpec {
                plus: Plus::Continuous,
                start: (2024, 1, 5, 9, 30, 0),
                patient,
                recording: "Dr Octavius site",
                signals: &[("Fp1", "uV", 64), ("Cz", "uV", 64)],
                annotations: &anns,
                ..EdfSpec::default()
            },
        );
    }
    let d = "sub-NDARSMITHJOHN/ses-baseline20240612/eeg";
    write_brainvision(
        &root.join(format!(
            "{d}/sub-NDARSMITHJOHN_ses-baseline20240612_task-rest_eeg.vhdr"
        )),
        &[("Fp2", 0.5, "µV"), ("Cz", 0.5, "µV")],
        500,
    );
    put(
        root,
        &format!("{d}/sub-NDARSMITHJOHN_ses-baseline20240612_task-rest_events.tsv"),
        "onset\tduration\ttrial_type\tvalue\n0.2\t0.1\tstim\t12\n0.5\tn/a\tJane Roe said hello\tn/a\n1.0\t0.2\tresp\tDr Octavius\n",
    );
}
