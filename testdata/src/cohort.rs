//! The generated files of the example cohort (`examples/cohort`, see its `SOURCES.tsv`): a 30 s
//! resting EEG recording per subject in BIDS (19 channels of the 10-20 system at 256 Hz: a
//! subject-specific alpha rhythm, 50 Hz line noise and seeded noise), an Olink NPX table and a
//! clinical table with its variable mapping. Deterministic: the same bytes on every run.

use std::f64::consts::PI;
use std::fmt::Write as _;
use std::path::Path;

use crate::Rng;
use crate::edf::{EdfSpec, SignalSpec, edf_bytes};
use crate::files::put;

const CHANNELS: [&str; 19] = [
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz",
    "P4", "P8", "O1", "O2",
];
const RATE: usize = 256;
const SECONDS: usize = 30;
const SUBJECTS: [&str; 3] = ["A01", "A02", "A03"];
const ASSAYS: [&str; 8] = [
    "OID00482", "OID00483", "OID00484", "OID00485", "OID00486", "OID00487", "OID00488", "OID00489",
];

/// Digital value (0.1 µV units) of channel `c` at sample `k` for subject `s`.
fn eeg_value(s: usize, c: usize, k: usize, noise: f64) -> i32 {
    let t = k as f64 / RATE as f64;
    let alpha_hz = 9.0 + s as f64;
    // Alpha strongest over the back of the head (O1, O2, P*), weaker in front.
    let weight = if c >= 12 { 1.0 } else { 0.35 };
    let alpha = 18.0 * weight * (2.0 * PI * alpha_hz * t + c as f64 * 0.3).sin();
    let line = 2.5 * (2.0 * PI * 50.0 * t).sin();
    ((alpha + line + noise) * 10.0).round() as i32
}

fn eeg(root: &Path) {
    put(
        root,
        "eeg/dataset_description.json",
        "{\"Name\": \"bomdata example cohort EEG (generated)\", \"BIDSVersion\": \"1.9.0\"}\n",
    );
    put(
        root,
        "eeg/task-rest_eeg.json",
        "{\"TaskName\": \"rest\", \"SamplingFrequency\": 256, \"PowerLineFrequency\": 50, \"EEGReference\": \"Cz\"}\n",
    );
    put(
        root,
        "eeg/participants.tsv",
        "participant_id\nsub-A01\nsub-A02\nsub-A03\n",
    );
    let signals: Vec<SignalSpec<'_>> = CHANNELS.iter().map(|c| (*c, "uV", RATE)).collect();
    for (s, id) in SUBJECTS.iter().enumerate() {
        let mut rng = Rng::new(1000 + s as u64);
        let noise: Vec<f64> = (0..CHANNELS.len() * RATE * SECONDS)
            .map(|_| (rng.next_f64() - 0.5) * 12.0)
            .collect();
        let spec = EdfSpec {
            signals: &signals,
            n_records: SECONDS,
            patient: "X X X X",
            ..EdfSpec::default()
        };
        let bytes = edf_bytes(&spec, |c, k| {
            eeg_value(s, c, k, noise[(c * RATE * SECONDS + k) % noise.len()])
        });
        put(
            root,
            &format!("eeg/sub-{id}/eeg/sub-{id}_task-rest_eeg.edf"),
            bytes,
        );
    }
}

fn tables(root: &Path) {
    let mut rng = Rng::new(7);
    let mut npx = String::from("SampleID;OlinkID;NPX;QC_Warning;LOD\n");
    for id in SUBJECTS {
        for (a, assay) in ASSAYS.iter().enumerate() {
            // One assay missing for subject 03: an NA in the table.
            if id == "A03" && a == 5 {
                continue;
            }
            let v = 2.0 + a as f64 * 0.7 + (rng.next_f64() - 0.5) * 2.0;
            let qc = if id == "A02" && a == 2 {
                "Warning"
            } else {
                "Pass"
            };
            writeln!(npx, "{id};{assay};{v:.3};{qc};1.5").unwrap_or_default();
        }
    }
    put(root, "tables/olink/cohort_NPX.csv", npx);
    put(
        root,
        "tables/clinical/visits.csv",
        "PTID,VISCODE,AGE,MMSE,NFL,DX\nA01,bl,71,28,11.5,CN\nA01,m12,72,27,12.25,CN\nA02,bl,68,24,16,MCI\nA03,bl,75,,21.5,AD\n",
    );
    put(
        root,
        "tables/clinical/visits.mapping.tsv",
        "column\tvariable\ttype\tunit\tcanonical_unit\tmin\tmax\tlevels\n\
         PTID\tsubject_id\tidentifier\t\t\t\t\t\n\
         VISCODE\tvisit\tcategorical\t\t\t\t\t\n\
         AGE\tage\tnumeric\tyears\tyears\t0\t120\t\n\
         MMSE\tmmse\tnumeric\t\t\t0\t30\t\n\
         NFL\tnfl_plasma\tnumeric\tpg/mL\tng/L\t0\t1000\t\n\
         DX\tdiagnosis\tcategorical\t\t\t\t\t\n",
    );
}

/// Writes every generated file of the cohort under `root` (the cohort folder).
pub fn write(root: &Path) {
    eeg(root);
    tables(root);
}

/// The generated files, relative to the cohort folder.
pub const FILES: [&str; 9] = [
    "eeg/dataset_description.json",
    "eeg/task-rest_eeg.json",
    "eeg/participants.tsv",
    "eeg/sub-A01/eeg/sub-A01_task-rest_eeg.edf",
    "eeg/sub-A02/eeg/sub-A02_task-rest_eeg.edf",
    "eeg/sub-A03/eeg/sub-A03_task-rest_eeg.edf",
    "tables/olink/cohort_NPX.csv",
    "tables/clinical/visits.csv",
    "tables/clinical/visits.mapping.tsv",
];
