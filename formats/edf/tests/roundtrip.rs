//! Write → read round trips (EDF, EDF+C, EDF+D, BDF, multi-rate, annotation-only) and bad input
//! built from bytes: truncated files, sizes that do not match the header, absurd counts and
//! non-numeric fields. Every refusal is an `InvalidData` error, never a panic.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::io::{self, Write};
use std::path::Path;

use bomdata_edf::header::{Plus, Signal, StartDateTime, Variant};
use bomdata_edf::io::{Reader, Writer};
use bomdata_edf::{Annotation, Header, Record, fs, probe};
use bomdata_format_core::ProbeOptions;

fn start() -> StartDateTime {
    StartDateTime {
        year: 2021,
        month: 3,
        day: 4,
        hour: 23,
        minute: 59,
        second: 59,
    }
}

/// A small multi-rate file: 3 records of 1 s, signals at 4 Hz and 2 Hz.
fn small(variant: Variant, plus: Plus) -> (Header, Vec<u8>) {
    let dmax = if variant == Variant::Edf {
        32767
    } else {
        8_388_607
    };
    let h = Header::builder(variant)
        .with_plus(plus)
        .with_start(start())
        .with_n_records(3)
        .with_patient("P-123 M 01-JAN-1970 Jane_Doe")
        .with_signal(Signal::new(
            "EEG Fp1-REF",
            "uV",
            (-500.0, 500.0),
            (-dmax - 1, dmax),
            4,
        ))
        .with_signal(Signal::new("ECG", "mV", (-5.0, 5.0), (-dmax - 1, dmax), 2))
        .build()
        .unwrap();
    let mut w = Writer::new(Vec::new());
    w.write_header(&h).unwrap();
    for r in 0..3i32 {
        let a: Vec<i32> = (0..4).map(|k| (r * 4 + k) * 1000 - 5000).collect();
        let b: Vec<i32> = (0..2).map(|k| dmax - r * 2 - k).collect();
        let ann = if r == 1 {
            vec![Annotation {
                onset: 1.25,
                duration: Some(0.5),
                text: "spike ünïcode".into(),
            }]
        } else {
            vec![]
        };
        w.write_digital_record(&h, &[&a, &b], &ann).unwrap();
    }
    (h, w.finish().unwrap())
}

fn write_tmp(bytes: &[u8], ext: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

fn refused(path: &Path) -> String {
    let e = probe::probe(path, &ProbeOptions::default()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    e.to_string()
}

#[test]
fn roundtrip_all_variants() {
    for variant in [Variant::Edf, Variant::Bdf] {
        for plus in [Plus::None, Plus::Continuous, Plus::Discontinuous] {
            let (h, bytes) = small(variant, plus);
            let f = write_tmp(&bytes, ".edf");
            let got = probe::probe(f.path(), &ProbeOptions::default()).unwrap();
            assert_eq!(got["format"], h.format_name());
            let ch = got["channels"].as_array().unwrap();
            assert_eq!(ch.len(), 2);
            assert_eq!(ch[0]["sampling_rate"], 4.0);
            assert_eq!(ch[1]["sampling_rate"], 2.0);
            assert_eq!(ch[0]["n_samples"], 12);
            assert_eq!(ch[1]["n_samples"], 6);
            let g = 1000.0
                / (2.0
                    * f64::from(if variant == Variant::Edf {
                        32767
                    } else {
                        8_388_607
                    })
                    + 1.0);
            let first = ch[0]["first"][0].as_f64().unwrap();
            let want = g * -5000.0
                + (-500.0
                    - g * (if variant == Variant::Edf {
                        -32768.0
                    } else {
                        -8_388_608.0
                    }));
            assert!((first - want).abs() < 1e-9, "{first} vs {want}");
            assert_eq!(got["duration_s"], 3.0);
            if plus == Plus::None {
                assert_eq!(got["annotations"].as_array().unwrap().len(), 0);
                assert_eq!(got["start"], "2021-03-04T23:59:59");
            } else {
                let a = &got["annotations"][0];
                assert_eq!(a["text"], "spike ünïcode");
                assert_eq!(a["onset"], 1.25);
                assert_eq!(a["duration"], 0.5);
            }
            assert!(got.get("patient").is_none());
            let shown = probe::probe(
                f.path(),
                &ProbeOptions {
                    show_identity: true,
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(shown["patient"], "P-123 M 01-JAN-1970 Jane_Doe");
        }
    }
}

#[test]
fn edf_plus_d_onsets_and_subsecond_start() {
    let h = Header::builder(Variant::Edf)
        .with_plus(Plus::Discontinuous)
        .with_start(start())
        .with_n_records(3)
        .with_record_duration(0.5)
        .with_signal(Signal::new("Cz", "uV", (-1.0, 1.0), (-100, 100), 2))
        .build()
        .unwrap();
    let mut w = Writer::new(Vec::new());
    w.write_header(&h).unwrap();
    let anns = [Annotation {
        onset: 10.75,
        duration: None,
        text: "after the gap".into(),
    }];
    for (i, onset) in [0.25, 0.75, 10.5].into_iter().enumerate() {
        let ann: &[Annotation] = if i == 2 { &anns } else { &[] };
        w.write_digital_record_at(&h, onset, &[&[1, 2]], ann)
            .unwrap();
    }
    let f = write_tmp(&w.finish().unwrap(), ".edf");
    let got = probe::probe(f.path(), &ProbeOptions::default()).unwrap();
    assert_eq!(got["format"], "edf+d");
    // Start crosses midnight: 23:59:59 + 0.25 s.
    assert_eq!(got["start"], "2021-03-04T23:59:59.250000");
    let onsets: Vec<f64> = got["record_onsets_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(onsets, [0.0, 0.5, 10.25]);
    assert_eq!(got["annotations"][0]["onset"], 10.5);
    assert_eq!(got["annotations"][0]["duration"], serde_json::Value::Null);
    assert_eq!(got["duration_s"], 1.5);
}

#[test]
fn annotation_only_file() {
    let h = Header::builder(Variant::Edf)
        .with_plus(Plus::Continuous)
        .with_n_records(1)
        .with_record_duration(0.0)
        .with_signal(Signal::annotations(Variant::Edf, 200))
        .build()
        .unwrap();
    let mut w = Writer::new(Vec::new());
    w.write_header(&h).unwrap();
    let anns: Vec<Annotation> = (0..3)
        .map(|i| Annotation {
            onset: f64::from(i) * 30.0,
            duration: Some(30.0),
            text: format!("Sleep stage {i}"),
        })
        .collect();
    w.write_digital_record(&h, &[], &anns).unwrap();
    let f = write_tmp(&w.finish().unwrap(), ".edf");
    let got = probe::probe(f.path(), &ProbeOptions::default()).unwrap();
    assert_eq!(got["channels"].as_array().unwrap().len(), 0);
    assert_eq!(got["annotations"].as_array().unwrap().len(), 3);
    assert_eq!(got["annotations"][2]["onset"], 60.0);
}

#[test]
fn partial_last_record_is_dropped() {
    let (_, bytes) = small(Variant::Edf, Plus::None);
    // Records are (4 + 2) × 2 = 12 bytes; cut 5 bytes off the last.
    let f = write_tmp(&bytes[..bytes.len() - 5], ".edf");
    let got = probe::probe(f.path(), &ProbeOptions::default()).unwrap();
    assert_eq!(got["channels"][0]["n_samples"], 8);
    assert_eq!(got["duration_s"], 2.0);
}

#[test]
fn truncated_and_mismatched_sizes_are_refused() {
    let (h, bytes) = small(Variant::Edf, Plus::None);
    let hl = h.header_len() as usize;
    let rl = h.record_len();
    // A whole record missing.
    let f = write_tmp(&bytes[..bytes.len() - rl], ".edf");
    assert!(refused(f.path()).contains("does not match"));
    // A record and a half missing.
    let f = write_tmp(&bytes[..bytes.len() - rl - 3], ".edf");
    assert!(refused(f.path()).contains("does not match"));
    // An extra record the header does not announce.
    let mut more = bytes.clone();
    more.extend_from_slice(&bytes[hl..hl + rl]);
    let f = write_tmp(&more, ".edf");
    assert!(refused(f.path()).contains("does not match"));
    // Truncated inside the header.
    let f = write_tmp(&bytes[..300], ".edf");
    assert!(refused(f.path()).contains("header truncated"));
    let f = write_tmp(&bytes[..100], ".edf");
    assert!(refused(f.path()).contains("header truncated"));
    // Streaming from a non-file source: data ending early is an error naming the record.
    let mut r = Reader::new(&bytes[..hl + rl + 2]);
    let header = r.read_header().unwrap();
    let mut rec = Record::default();
    assert_eq!(r.read_record(&header, &mut rec).unwrap(), rl);
    let e = r.read_record(&header, &mut rec).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("record 1"), "{e}");
}

#[test]
fn absurd_counts_and_non_numeric_fields_are_refused() {
    let (_, bytes) = small(Variant::Edf, Plus::None);
    let patch = |at: usize, text: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + text.len()].copy_from_slice(text);
        b
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (patch(236, b"99999999"), "does not match"),
        (patch(236, b"-2      "), "number of data records"),
        (patch(252, b"9999"), "number of header bytes"),
        (patch(184, b"99999999"), "number of header bytes"),
        (patch(252, b"0   "), "number of signals"),
        (patch(252, b"x   "), "number of signals"),
        (patch(244, b"one     "), "duration"),
        (patch(168, b"32.13.99"), "start date"),
        (patch(176, b"25.00.00"), "start time"),
        // samples per record of signal 0: 256 + 2 × (16 + 80 + 8 × 5 + 80) = 688.
        (patch(688, b"12a     "), "samples per record of signal 0"),
        (patch(688, b"99999999"), "does not match"),
        // digital minimum of signal 1: 256 + 2 × (16 + 80 + 8 × 3) + 8 = 504.
        (patch(504, b"--3     "), "digital minimum of signal 1"),
        (patch(504, b"-99999  "), "digital minimum of signal 1"),
        (patch(0, b"1       "), "version"),
    ];
    for (b, want) in cases {
        let f = write_tmp(&b, ".edf");
        let m = refused(f.path());
        assert!(m.contains(want), "{m:?} should mention {want:?}");
    }
}

#[test]
fn malformed_annotations_are_refused() {
    let (h, bytes) = small(Variant::Edf, Plus::Continuous);
    let hl = h.header_len() as usize;
    let ann_off = hl + h.signal_offset(2);
    let mut b = bytes.clone();
    b[ann_off] = b'x';
    let f = write_tmp(&b, ".edf");
    assert!(refused(f.path()).contains("record 0"));
}

#[test]
fn no_panic_on_any_truncation_or_byte_flip() {
    let (_, bytes) = small(Variant::Bdf, Plus::Continuous);
    for cut in 0..bytes.len() {
        let mut r = Reader::new(&bytes[..cut]);
        if let Ok(h) = r.read_header() {
            let mut rec = Record::default();
            while let Ok(n) = r.read_record(&h, &mut rec) {
                if n == 0 {
                    break;
                }
                let _ = rec.annotations(&h);
            }
        }
    }
    let mut rng = bomdata_testdata::Rng::new(7);
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            let i = rng.below(b.len() as u64) as usize;
            b[i] = rng.below(256) as u8;
        }
        let mut r = Reader::new(&b[..]);
        if let Ok(h) = r.read_header() {
            let _ = h.records_in_file(b.len() as u64);
            let mut rec = Record::default();
            while let Ok(n) = r.read_record(&h, &mut rec) {
                if n == 0 {
                    break;
                }
                let mut v = Vec::new();
                for s in 0..h.signals.len() {
                    rec.read_physical(&h, s, &mut v);
                }
                let _ = rec.annotations(&h);
            }
        }
    }
}

#[test]
fn detect_by_extension_and_magic() {
    let (_, bytes) = small(Variant::Bdf, Plus::Continuous);
    let f = write_tmp(&bytes, ".bdf");
    assert_eq!(probe::detect(f.path()), Some("bdf+c"));
    let f = write_tmp(&bytes, ".rec");
    assert_eq!(probe::detect(f.path()), Some("bdf+c"));
    let f = write_tmp(b"chan,start,end,label\n", ".rec");
    assert_eq!(probe::detect(f.path()), None);
    let (_, bytes) = small(Variant::Edf, Plus::None);
    let f = write_tmp(&bytes, ".dat");
    assert_eq!(probe::detect(f.path()), Some("edf"));
    assert!(fs::read_header(f.path()).is_ok());
}

#[test]
fn read_annotations_without_samples() {
    let (_, bytes) = small(Variant::Edf, Plus::Continuous);
    let f = write_tmp(&bytes, ".edf");
    let a = fs::read_annotations(f.path()).unwrap();
    assert_eq!(a.record_onsets, [0.0, 1.0, 2.0]);
    assert_eq!(a.annotations.len(), 1);
    assert_eq!(a.annotations[0].onset, 1.25);
    let (_, bytes) = small(Variant::Edf, Plus::None);
    let f = write_tmp(&bytes, ".edf");
    assert_eq!(
        fs::read_annotations(f.path()).unwrap(),
        fs::FileAnnotations::default()
    );
}
