//! `bomdata probe`.

use std::path::{Path, PathBuf};

use bomdata_format_core::ProbeOptions;

/// Arguments of `bomdata probe`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to read (for BrainVision the .vhdr, for NIfTI pairs the .hdr).
    pub file: PathBuf,
    /// Value at voxel `i,j,k[,t...]` (repeatable).
    #[arg(long)]
    pub at: Vec<String>,
    /// Sub-sequence or interval `NAME:START-END`, 0-based half-open.
    #[arg(long)]
    pub region: Option<String>,
    /// First N values per channel.
    #[arg(long)]
    pub first: Option<usize>,
    /// Include identity header text (EDF patient/recording, ...).
    #[arg(long)]
    pub show_identity: bool,
    /// Reference FASTA for CRAM.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Compact single-line JSON.
    #[arg(long)]
    pub json: bool,
}

type ProbeFn = fn(&Path, &ProbeOptions) -> std::io::Result<serde_json::Value>;
type DetectFn = fn(&Path) -> Option<&'static str>;

/// Every format reader's detector and probe, in order of preference.
fn readers() -> Vec<(DetectFn, ProbeFn)> {
    vec![
        (bomdata_nifti::probe::detect, bomdata_nifti::probe::probe),
        (bomdata_dicom::probe::detect, bomdata_dicom::probe::probe),
        (bomdata_edf::probe::detect, bomdata_edf::probe::probe),
        (bomdata_ephys::probe::detect, bomdata_ephys::probe::probe),
        (
            bomdata_genomic::probe::detect,
            bomdata_genomic::probe::probe,
        ),
        (bomdata_table::probe::detect, bomdata_table::probe::probe),
    ]
}

fn error_kind(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not_found",
        std::io::ErrorKind::PermissionDenied => "permission_denied",
        std::io::ErrorKind::InvalidData => "invalid_data",
        std::io::ErrorKind::UnexpectedEof => "truncated",
        std::io::ErrorKind::Unsupported => "unsupported",
        std::io::ErrorKind::InvalidInput => "invalid_input",
        _ => "io",
    }
}

/// Runs `bomdata probe`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let mut at = Vec::new();
    for s in &a.at {
        let idx: Result<Vec<u64>, _> = s.split(',').map(|x| x.trim().parse::<u64>()).collect();
        match idx {
            Ok(v) if !v.is_empty() => at.push(v),
            _ => anyhow::bail!("--at {s:?}: comma-separated non-negative integers expected"),
        }
    }
    let opts = ProbeOptions {
        at,
        region: a.region.clone(),
        first: a.first,
        show_identity: a.show_identity,
        reference: a.reference.clone(),
    };
    let result = if !a.file.exists() {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))
    } else {
        match readers()
            .into_iter()
            .find(|(detect, _)| detect(&a.file).is_some())
        {
            Some((_, probe)) => probe(&a.file, &opts),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "no reader recognises this file (by extension or magic bytes)",
            )),
        }
    };
    match result {
        Ok(mut v) => {
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("path".into(), a.file.display().to_string().into());
            }
            super::print_json(&v, a.json)?;
            Ok(0)
        }
        Err(e) => {
            let v = serde_json::json!({"error": {
                "kind": error_kind(&e),
                "message": format!("{}: {e}", a.file.display()),
            }});
            super::print_json(&v, a.json)?;
            eprintln!(
                "bomdata: {}",
                super::escape(&format!("{}: {e}", a.file.display()))
            );
            // A file that is not there: could not run (2); a file that cannot be read: 1.
            Ok(if a.file.exists() { 1 } else { 2 })
        }
    }
}
