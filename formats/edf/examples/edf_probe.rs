//! Prints the probe JSON of an EDF/BDF file: `cargo run -p bomdata-edf --example edf_probe -- FILE`.
#![allow(clippy::print_stdout, reason = "an example binary prints its result")]

use bomdata_format_core::ProbeOptions;

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_default();
    let opts = ProbeOptions {
        first: Some(3),
        ..Default::default()
    };
    let v = bomdata_edf::probe::probe(std::path::Path::new(&path), &opts)?;
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(())
}
