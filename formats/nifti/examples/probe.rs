//! Prints the probe JSON of a NIfTI file: `cargo run -p bomdata-nifti --example probe -- FILE [i,j,k[,t]]...`
#![allow(clippy::print_stdout, clippy::print_stderr)] // an example binary reports on stdout

use bomdata_format_core::ProbeOptions;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: probe FILE [i,j,k[,t]]...");
        std::process::exit(2);
    };
    let at = args
        .map(|a| {
            a.split(',')
                .map(|x| x.parse::<u64>().unwrap_or(0))
                .collect()
        })
        .collect();
    let opts = ProbeOptions {
        at,
        ..Default::default()
    };
    match bomdata_nifti::probe::probe(std::path::Path::new(&path), &opts) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"error": {"kind": format!("{:?}", e.kind()), "message": e.to_string()}})
            );
            std::process::exit(1);
        }
    }
}
