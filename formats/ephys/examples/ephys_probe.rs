//! Prints the probe report of a BrainVision, EEGLAB, FIF or NWB file as JSON.
//!
//! `cargo run -p bomdata-ephys --example ephys_probe -- rec.vhdr`

use std::io::Write;

use bomdata_format_core::ProbeOptions;

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args_os().nth(1) else {
        return Err(std::io::Error::other("usage: ephys_probe FILE"));
    };
    let v = bomdata_ephys::probe(std::path::Path::new(&path), &ProbeOptions::default())?;
    let text = serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
