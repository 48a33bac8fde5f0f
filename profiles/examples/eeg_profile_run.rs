//! Applies an EEG profile to one canonical sample directory (`signal.npy` + `meta.json`) and
//! writes the output windows: `eeg_profile_run DIR PROFILE PARAMS_JSON OUT_DIR`.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a debugging example"
)]

use bomdata_profiles::{Params, registry};
use bomdata_shard::Sample;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::Path::new(&a[1]);
    let params: Params = serde_json::from_str(&a[3]).unwrap();
    let s = Sample::new("x_s1_eeg_000000")
        .with("signal.npy", std::fs::read(dir.join("signal.npy")).unwrap())
        .with("meta.json", std::fs::read(dir.join("meta.json")).unwrap());
    let out = std::path::Path::new(&a[4]);
    std::fs::create_dir_all(out).unwrap();
    let applied = registry::create(&a[2], &params).unwrap().apply(s).unwrap();
    for s in &applied.samples {
        for m in &s.members {
            std::fs::write(out.join(format!("{}.{}", s.key, m.name)), &m.data).unwrap();
        }
    }
    println!(
        "{} windows, rejected {:?}",
        applied.samples.len(),
        applied.rejected
    );
}
