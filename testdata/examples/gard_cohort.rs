//! Writes the GARD-like synthetic cohort: `cargo run -p bomdata-testdata --features hdf5 --example gard_cohort -- DIR [PROBES] [SUBJECTS]`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use bomdata_testdata::gard::{GardOptions, gard_cohort};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or("gard", String::as_str));
    let mut o = GardOptions::default();
    if let Some(p) = args.get(2) {
        o.probes = p.parse().unwrap();
    }
    if let Some(s) = args.get(3) {
        o.subjects = s.parse().unwrap();
    }
    let t = gard_cohort(&dir, &o);
    println!(
        "{}: {} subjects, {} methylation, {} olink, {} microbiome, {} clinical rows",
        dir.display(),
        o.subjects,
        t.methylation.len(),
        t.olink.len(),
        t.microbiome.len(),
        t.clinical.len()
    );
}
