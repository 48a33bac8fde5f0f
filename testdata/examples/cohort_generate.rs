//! Writes the generated files of the example cohort (`bomdata_testdata::cohort`).
//!
//! `cargo run -p bomdata-testdata --example cohort_generate [ROOT]` (default `examples/cohort`).
#![allow(clippy::print_stdout, reason = "an example binary prints its result")]

use std::path::PathBuf;

fn main() {
    let root = std::env::args().nth(1).map_or_else(
        || bomdata_testdata::workspace_root().join("examples/cohort"),
        PathBuf::from,
    );
    bomdata_testdata::cohort::write(&root);
    println!(
        "wrote the generated files of the example cohort under {}",
        root.display()
    );
}
