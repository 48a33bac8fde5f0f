//! Writes a synthetic EDF+C recording with the crate's Writer, for benchmarks and tests:
//! `edf_generate OUT.edf HOURS [CHANNELS] [RATE]` (defaults 64 channels at 256 Hz).
#![allow(clippy::print_stdout, reason = "an example binary prints its result")]

use std::fs::File;
use std::io::{self, BufWriter};

use bomdata_edf::header::{Plus, Signal, StartDateTime, Variant};
use bomdata_edf::io::Writer;
use bomdata_edf::{Annotation, Header};

const NAMES: [&str; 19] = [
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5",
    "T6", "FZ", "CZ", "PZ",
];

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).cloned().unwrap_or_else(|| "bench.edf".into());
    let hours: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let n_ch: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let rate: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(256);
    let n_records = (hours * 3600.0).round() as u64;
    let mut b = Header::builder(Variant::Edf)
        .with_plus(Plus::Continuous)
        .with_start(StartDateTime {
            year: 2020,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        })
        .with_n_records(n_records)
        .with_record_duration(1.0);
    for c in 0..n_ch {
        let label = match NAMES.get(c) {
            Some(n) => format!("EEG {n}-REF"),
            None => format!("EEG {}-REF", c + 1),
        };
        b = b.with_signal(Signal::new(
            label,
            "uV",
            (-3276.8, 3276.7),
            (-32768, 32767),
            rate,
        ));
    }
    let h = b.build()?;
    let mut w = Writer::new(BufWriter::with_capacity(1 << 20, File::create(&out)?));
    w.write_header(&h)?;
    let mut state = 0x1234_5678_u64;
    let mut data = vec![vec![0i32; rate]; n_ch];
    for r in 0..n_records {
        for (c, ch) in data.iter_mut().enumerate() {
            for (k, v) in ch.iter_mut().enumerate() {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let noise = ((state >> 33) % 200) as f64 - 100.0;
                let t = (r as f64) + k as f64 / rate as f64;
                let s = 300.0 * (2.0 * std::f64::consts::PI * (8.0 + c as f64 * 0.1) * t).sin();
                *v = (s + noise) as i32;
            }
        }
        let refs: Vec<&[i32]> = data.iter().map(|v| v.as_slice()).collect();
        let ann = if r % 600 == 0 {
            vec![Annotation {
                onset: r as f64,
                duration: Some(1.0),
                text: "marker".into(),
            }]
        } else {
            vec![]
        };
        w.write_digital_record(&h, &refs, &ann)?;
    }
    w.finish()?;
    println!("wrote {out}: {n_ch} channels, {rate} Hz, {n_records} s");
    Ok(())
}
