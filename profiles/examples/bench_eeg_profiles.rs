//! EEG profile benchmark: canonical read of an EDF (every data signal to float32 µV `[C, T]`,
//! as the ingest writes `signal.npy`) + one EEG profile (default `cbramod`), in-process.
//! `bench_eeg_profiles FILE.edf [JOBS] [PROFILE] [ROUNDS] [inputs|all]`: `inputs` (default) decodes
//! only the channels the profile reads (`EegProfile::input_channels`: the profile is known
//! before decoding, as when one recording goes straight to training windows), `all` every data
//! signal (the whole canonical recording, as `bomdata ingest` writes it). JOBS threads each process their own copy of
//! the recording, ROUNDS times one after the other (default 1); prints one JSON line with
//! seconds (wall, all jobs and rounds), read_s and profile_s of the first round (summed over
//! the jobs), windows and rejections, and with ROUNDS > 1 `later_read_s`/`later_profile_s`:
//! the best later round (a process that has already processed a recording, as in a dataset
//! run), as wall (`later_s`) and thread CPU (`later_cpu_s`) seconds; `rounds_s`/`rounds_cpu_s`
//! list every round of the first job (wall, thread CPU).
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark example"
)]

use std::path::Path;
use std::time::Instant;

use bomdata_edf::{Record, fs};
use bomdata_profiles::eeg::EegProfile;
use bomdata_profiles::{Params, registry};
use bomdata_schemas::eeg::{Channel, ChannelType, Recording};
use bomdata_shard::{Sample, npy};
use bomdata_testdata::bench::thread_cpu_seconds;

fn uv_factor(unit: &str) -> f64 {
    match unit {
        "mV" => 1e3,
        "V" => 1e6,
        "nV" => 1e-3,
        _ => 1.0,
    }
}

/// The canonical channel of EDF signal `i` (as the ingest names it).
fn channel(label: &str) -> Channel {
    let label = label.trim().to_string();
    let name = label
        .trim_start_matches("EEG ")
        .trim_end_matches("-REF")
        .to_uppercase();
    Channel {
        name,
        original_name: label,
        channel_type: ChannelType::Eeg,
        unit: "uV".into(),
        xyz_mm: [f64::NAN; 3],
        sensor: None,
    }
}

/// Reads the EDF into a canonical sample (one chunk: the generated file is EDF+C). With
/// `inputs` (the profile known before decoding), only the channels it reads are decoded and
/// listed (`EegProfile::input_channels`); without, every data signal.
fn canonical(path: &Path, inputs: Option<&EegProfile>) -> Sample {
    let (mut reader, header) = fs::open(path).unwrap();
    let mut sig: Vec<usize> = (0..header.signals.len())
        .filter(|&i| !header.signals[i].is_annotation())
        .collect();
    let mut chans: Vec<Channel> = sig
        .iter()
        .map(|&i| channel(&header.signals[i].label))
        .collect();
    if let Some(keep) = inputs.and_then(|p| p.input_channels(&chans)) {
        sig = keep.iter().map(|&k| sig[k]).collect();
        chans = keep.iter().map(|&k| chans[k].clone()).collect();
    }
    let spr = header.signals[sig[0]].samples_per_record;
    let n_rec = header.n_records.unwrap_or(0) as usize;
    let t = spr * n_rec;
    // The .npy bytes are written in place (header, then row-major float32), one record at a
    // time through a small buffer, so the signal is held once.
    let head = npy::header(npy::Dtype::F32, &[sig.len(), t]);
    let data_at = head.len();
    // From the shard crate's buffer pool, as the shard reader takes its sample buffers: the
    // profile gives the canonical buffer back when it is done with it.
    let mut npy_bytes = bomdata_shard::buffers::take(data_at + sig.len() * t * 4);
    npy_bytes[..data_at].copy_from_slice(&head);
    let mut buf = vec![0f32; spr];
    let mut rec = Record::default();
    let mut r = 0;
    // Decoded straight into the sample's float32 data where it is aligned (it is: the .npy
    // header is 64-byte padded and the buffer comes from the allocator) on a little-endian
    // machine; otherwise through `buf`.
    // SAFETY: any 4 initialised bytes are a valid f32, and align_to_mut only hands out
    // aligned, in-bounds f32s.
    let (pre, direct, _) = unsafe { npy_bytes[data_at..].align_to_mut::<f32>() };
    if pre.is_empty() && cfg!(target_endian = "little") {
        while r < n_rec && reader.read_record(&header, &mut rec).unwrap() != 0 {
            for (c, &i) in sig.iter().enumerate() {
                let f = uv_factor(&header.signals[i].physical_dimension);
                let at = c * t + r * spr;
                rec.decode_f32(&header, i, f, &mut direct[at..at + spr]);
            }
            r += 1;
        }
    } else {
        while r < n_rec && reader.read_record(&header, &mut rec).unwrap() != 0 {
            for (c, &i) in sig.iter().enumerate() {
                let f = uv_factor(&header.signals[i].physical_dimension);
                rec.decode_f32(&header, i, f, &mut buf);
                let at = data_at + (c * t + r * spr) * 4;
                for (o, v) in npy_bytes[at..at + spr * 4].chunks_exact_mut(4).zip(&buf) {
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
            r += 1;
        }
    }
    if r < n_rec {
        // A short file: what was not read is zero, not an earlier sample's bytes.
        for c in 0..sig.len() {
            let at = data_at + (c * t + r * spr) * 4;
            npy_bytes[at..data_at + (c + 1) * t * 4].fill(0);
        }
    }
    let fs_hz = spr as f64 / header.record_duration;
    let mut meta = Recording::new(fs_hz);
    meta.n_samples = t as u64;
    meta.chunk.duration_s = t as f64 / fs_hz;
    meta.channels = chans;
    Sample::new("bench_s1_eeg_000000")
        .with("signal.npy", npy_bytes)
        .with("meta.json", serde_json::to_vec(&meta).unwrap())
}

/// One round of one job: windows, rejections, read_s, profile_s, thread CPU seconds.
type Round = (usize, usize, f64, f64, f64);

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let path = a.get(1).cloned().unwrap_or_default();
    let jobs: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let name = a.get(3).cloned().unwrap_or_else(|| "cbramod".into());
    let rounds: usize = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    // `all`: decode every channel (the canonical recording as the ingest writes it); default
    // `inputs`: only those the profile reads (an EEG profile known before decoding).
    let all = a.get(5).map(String::as_str) == Some("all");
    let prof = registry::create(&name, &Params::new()).unwrap();
    let eeg = (!all)
        .then(|| EegProfile::new(&name, &Params::new()).ok())
        .flatten();
    let t0 = Instant::now();
    // Per job: (windows, rejected, read_s, profile_s) of each round.
    let results: Vec<Vec<Round>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..jobs)
            .map(|_| {
                let prof = &prof;
                let path = &path;
                let eeg = eeg.as_ref();
                s.spawn(move || {
                    (0..rounds)
                        .map(|_| {
                            let c = thread_cpu_seconds();
                            let t = Instant::now();
                            let sample = canonical(Path::new(path), eeg);
                            let read_s = t.elapsed().as_secs_f64();
                            let t = Instant::now();
                            let out = prof.apply(sample).unwrap();
                            let profile_s = t.elapsed().as_secs_f64();
                            let cpu_s = thread_cpu_seconds() - c;
                            (
                                out.samples.len(),
                                out.rejected.len(),
                                read_s,
                                profile_s,
                                cpu_s,
                            )
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    let first: Vec<&Round> = results.iter().map(|r| &r[0]).collect();
    let windows: usize = first.iter().map(|r| r.0).sum();
    let rejected: usize = first.iter().map(|r| r.1).sum();
    let read_s: f64 = first.iter().map(|r| r.2).sum();
    let profile_s: f64 = first.iter().map(|r| r.3).sum();
    // Later rounds: a recording processed by a process that has already processed one (as
    // in a dataset run), best of them, summed over the jobs.
    let later = |f: fn(&Round) -> f64| -> f64 {
        results
            .iter()
            .map(|r| r[1..].iter().map(f).fold(f64::INFINITY, f64::min))
            .sum()
    };
    let steady = if rounds > 1 {
        format!(
            ", \"later_s\": {}, \"later_cpu_s\": {}, \"later_read_s\": {}, \"later_profile_s\": {}",
            later(|r| r.2 + r.3),
            later(|r| r.4),
            later(|r| r.2),
            later(|r| r.3)
        )
    } else {
        String::new()
    };
    // Every round of the first job: wall (read + profile) and thread CPU seconds.
    let list = |f: fn(&Round) -> f64| -> String {
        let v: Vec<String> = results[0].iter().map(|r| f(r).to_string()).collect();
        v.join(", ")
    };
    println!(
        "{{\"profile\": \"{name}\", \"jobs\": {jobs}, \"rounds\": {rounds}, \"seconds\": {secs}, \"read_s\": {read_s}, \"profile_s\": {profile_s}, \"windows\": {windows}, \"rejected\": {rejected}{steady}, \"rounds_s\": [{}], \"rounds_cpu_s\": [{}]}}",
        list(|r| r.2 + r.3),
        list(|r| r.4)
    );
}
