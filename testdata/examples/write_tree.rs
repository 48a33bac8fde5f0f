//! Writes a synthetic source tree for scripts (the Slurm test, demos):
//!
//! ```text
//! cargo run -p bomdata-testdata --example write_tree -- bids DIR [SUBJECTS]
//! cargo run -p bomdata-testdata --example write_tree -- tueg DIR [SUBJECTS] [SECONDS]
//! ```
//!
//! `bids`: a multi-modality BIDS tree, per subject a T1w, a FLAIR, a BOLD run (top-level
//! sidecar), a DWI with bval/bvec and an FDG PET with frame timing (default 12 subjects).
//! `tueg`: [`bomdata_testdata::eeg::tueg_long_tree`] (default 8 subjects of 60 s).

#![allow(clippy::print_stderr)]

use std::path::Path;

use bomdata_testdata::files::put;
use bomdata_testdata::mri::nii;

fn bids(root: &Path, subjects: usize) {
    put(
        root,
        "dataset_description.json",
        br#"{"Name": "synthetic multi-modality", "BIDSVersion": "1.8.0"}"#,
    );
    put(
        root,
        "task-rest_bold.json",
        br#"{"RepetitionTime": 2.0, "TaskName": "rest"}"#,
    );
    let mut participants = String::from("participant_id\tage\n");
    for s in 0..subjects {
        let sub = format!("sub-{:03}", s + 1);
        participants.push_str(&format!("{sub}\t{}\n", 60 + s % 20));
        let grow = (s % 3) as u64;
        nii(
            root,
            &format!("{sub}/anat/{sub}_T1w.nii.gz"),
            &[64 + grow, 64, 48],
        );
        nii(
            root,
            &format!("{sub}/anat/{sub}_FLAIR.nii.gz"),
            &[48, 48, 32],
        );
        let bold = format!("{sub}/ses-1/func/{sub}_ses-1_task-rest_bold.nii.gz");
        nii(root, &bold, &[32, 32, 20, 20 + grow]);
        let dwi = format!("{sub}/ses-1/dwi/{sub}_ses-1_dwi");
        nii(root, &format!("{dwi}.nii.gz"), &[32, 32, 20, 3]);
        put(root, &format!("{dwi}.bval"), b"0 1000 2000\n");
        put(root, &format!("{dwi}.bvec"), b"0 1 0\n0 0 1\n0 0 0\n");
        let pet = format!("{sub}/pet/{sub}_trc-FDG_pet");
        nii(root, &format!("{pet}.nii.gz"), &[32, 32, 20, 2]);
        put(
            root,
            &format!("{pet}.json"),
            br#"{"FrameTimesStart": [0, 300], "FrameDuration": [300, 300]}"#,
        );
    }
    put(root, "participants.tsv", participants);
}

fn arg(args: &[String], i: usize, default: usize) -> usize {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: write_tree bids|tueg DIR [SUBJECTS] [SECONDS]");
        std::process::exit(2);
    };
    let root = Path::new(dir);
    match kind.as_str() {
        "bids" => bids(root, arg(&args, 2, 12)),
        "tueg" => bomdata_testdata::eeg::tueg_long_tree(root, arg(&args, 2, 8), arg(&args, 3, 60)),
        other => {
            eprintln!("write_tree: unknown kind {other:?} (bids, tueg)");
            std::process::exit(2);
        }
    }
}
