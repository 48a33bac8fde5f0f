//! The EEG adapters (tueg, nsrr) on synthetic trees that copy each real layout, with EDF files
//! written by `bomdata-edf`'s own Writer.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;

use bomdata_edf::header::{Plus, Signal, StartDateTime, Variant};
use bomdata_edf::io::Writer;
use bomdata_edf::{Annotation, Header};
use bomdata_ingest::sources::{nsrr::Nsrr, tueg::Tueg};
use bomdata_schemas::eeg::{ChannelType, Recording, Reference};
use bomdata_shard::{Sample, npy};
use bomdata_testdata::TempDir;
use common::ingest;

/// Digital value of channel `c`, sample `k` (global index): a ramp per channel.
fn digital(c: usize, k: usize) -> i32 {
    (k % 1000) as i32 - 500 + c as i32 * 7
}

/// Writes an EDF with 10 records of 1 s. Data signals are (label, unit, samples per record);
/// physical range ±3276.8 over digital ±32768 (gain 0.1). `onsets` makes it EDF+D.
fn write_edf(
    path: &Path,
    plus: Plus,
    signals: &[(&str, &str, usize)],
    onsets: Option<&[f64]>,
    anns: &[Annotation],
) {
    let n = onsets.map_or(10, |o| o.len());
    let mut b = Header::builder(Variant::Edf)
        .with_plus(plus)
        .with_start(StartDateTime {
            year: 2004,
            month: 5,
            day: 6,
            hour: 7,
            minute: 8,
            second: 9,
        })
        .with_patient("0123456 M 02-MAR-1951 Jane_Doe")
        .with_n_records(n as u64);
    for (label, unit, spr) in signals {
        b = b.with_signal(Signal::new(
            *label,
            *unit,
            (-3276.8, 3276.7),
            (-32768, 32767),
            *spr,
        ));
    }
    if plus != Plus::None {
        b = b.with_signal(Signal::annotations(Variant::Edf, 120));
    }
    let h = b.build().unwrap();
    let mut w = Writer::new(Vec::new());
    w.write_header(&h).unwrap();
    for r in 0..n {
        let data: Vec<Vec<i32>> = signals
            .iter()
            .enumerate()
            .map(|(c, s)| (0..s.2).map(|k| digital(c, r * s.2 + k)).collect())
            .collect();
        let refs: Vec<&[i32]> = data.iter().map(|v| v.as_slice()).collect();
        let here: Vec<Annotation> = if r == 0 { anns.to_vec() } else { vec![] };
        let onset = onsets.map_or(r as f64, |o| o[r]);
        w.write_digital_record_at(&h, onset, &refs, &here).unwrap();
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, w.finish().unwrap()).unwrap();
}

fn meta(s: &Sample) -> Recording {
    serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap()
}

fn signal(s: &Sample) -> (Vec<usize>, Vec<f32>) {
    let v = npy::decode(&s.member("signal.npy").unwrap().data).unwrap();
    let vals = v
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (v.shape.clone(), vals)
}

const TUH_AR: [(&str, &str, usize); 5] = [
    ("EEG FP1-REF", "uV", 250),
    ("EEG T3-REF", "uV", 250),
    ("EEG CZ-REF", "uV", 250),
    ("EKG1-REF", "mV", 250),
    ("PHOTIC-REF", "uV", 125),
];

fn tuh_tree(root: &Path) {
    let anns = [Annotation {
        onset: 9.5,
        duration: Some(1.0),
        text: "seiz".into(),
    }];
    write_edf(
        &root.join("edf/train/normal/01_tcp_ar/aaaaamye_s001_t000.edf"),
        Plus::Continuous,
        &TUH_AR,
        None,
        &anns,
    );
    let le = [("EEG FP1-LE", "uV", 256), ("EEG T5-LE", "uV", 256)];
    write_edf(
        &root.join("edf/eval/abnormal/02_tcp_le/aaaaabbb_s002_t001.edf"),
        Plus::None,
        &le,
        None,
        &[],
    );
    // TUSZ layout with a file truncated by a whole record: refused, the rest carries on.
    let p = root.join("edf/dev/aaaaaccc/s001_2002_01_01/03_tcp_ar_a/aaaaaccc_s001_t000.edf");
    write_edf(&p, Plus::None, &le, None, &[]);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 1024]).unwrap();
    // TUEV event file: CSV, not an EDF.
    std::fs::write(
        root.join("edf/train/normal/01_tcp_ar/aaaaamye_s001_t000.rec"),
        "0,1.0,2.0,6\n",
    )
    .unwrap();
}

#[test]
fn tueg_tree() {
    let dir = TempDir::new("tueg");
    tuh_tree(&dir.0);
    let (units, sink, errors) = ingest(&Tueg, &dir.0, false, 4.0);
    assert_eq!(units.len(), 3, "{units:?}");
    let u = units.iter().find(|u| u.id.contains("aaaaamye")).unwrap();
    assert_eq!(u.subject.as_deref(), Some("aaaaamye"));
    assert_eq!(u.session.as_deref(), Some("s001"));
    assert_eq!(u.detail["token"], "t000");
    assert_eq!(u.detail["montage"], "01_tcp_ar");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].0.contains("aaaaaccc") && errors[0].1.contains("does not match"),
        "{errors:?}"
    );

    // aaaaamye: 10 s at 250 Hz in 4 s chunks → 4 + 4 + 2 s; PHOTIC at 125 Hz left out.
    let ar: Vec<&Sample> = sink
        .samples
        .iter()
        .filter(|s| meta(s).montage.as_deref() == Some("01_tcp_ar"))
        .collect();
    assert_eq!(ar.len(), 3);
    assert!(sink.skipped.iter().any(|(_, r)| r.contains("PHOTIC-REF")));
    for (i, s) in ar.iter().enumerate() {
        assert!(
            !s.key.contains("aaaaamye"),
            "original subject ID in key {}",
            s.key
        );
        assert!(s.key.ends_with(&format!("_t000_eeg_{i:06}")), "{}", s.key);
        let m = meta(s);
        let raw = String::from_utf8_lossy(&s.member("meta.json").unwrap().data).to_string();
        assert!(
            !raw.contains("Jane") && !raw.contains("0123456") && !raw.contains("aaaaamye"),
            "identity in {raw}"
        );
        assert_eq!(m.start, None);
        assert_eq!(m.schema, "eeg/1");
        assert_eq!(m.sampling_rate, 250.0);
        assert_eq!(m.reference, Reference::Average);
        assert_eq!(m.power_line_hz, Some(60.0));
        assert_eq!(m.chunk.index as usize, i);
        assert_eq!(m.chunk.count, 3);
        assert_eq!(m.chunk.offset_s, 4.0 * i as f64);
        let names: Vec<&str> = m.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["FP1", "T7", "CZ", "EKG1"]);
        assert_eq!(m.channels[3].channel_type, ChannelType::Ecg);
        assert_eq!(m.channels[3].unit, "uV");
        assert!(m.channels[1].xyz_mm[0] < -70.0);
        assert!(m.channels[3].xyz_mm[0].is_nan());
        let (shape, v) = signal(s);
        let n = if i == 2 { 500 } else { 1000 };
        assert_eq!(shape, [4, n]);
        assert_eq!(m.n_samples as usize, n);
        // Physical = 0.1 × digital (+ a tiny offset from the asymmetric range); EKG in mV → ×1000.
        for (c, factor) in [(0usize, 1.0f64), (1, 1.0), (3, 1000.0)] {
            for k in [0usize, 1, n - 1] {
                let g = 6553.5 / 65535.0;
                let want =
                    (g * f64::from(digital(c, i * 1000 + k)) + (-3276.8 + g * 32768.0)) * factor;
                let got = f64::from(v[c * n + k]);
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "chunk {i} ch {c} k {k}: {got} vs {want}"
                );
            }
        }
        let expect_ann = i == 2;
        assert_eq!(
            !m.annotations.is_empty(),
            expect_ann,
            "chunk {i}: {:?}",
            m.annotations
        );
        if expect_ann {
            assert_eq!(m.annotations[0].onset_s, 1.5);
            assert_eq!(m.annotations[0].text, "seiz");
        }
    }
    // Linked ears from the 02_tcp_le folder and the -LE suffix; T5 → P7.
    let le: Vec<Recording> = sink
        .samples
        .iter()
        .map(meta)
        .filter(|m| m.montage.as_deref() == Some("02_tcp_le"))
        .collect();
    assert_eq!(le.len(), 3);
    assert_eq!(le[0].reference, Reference::LinkedEars);
    assert_eq!(le[0].channels[1].name, "P7");
    assert_eq!(sink.subjects.len(), 2);
    assert!(sink.subjects.iter().all(|r| r.n_samples == 3));

    // Identity kept only on request.
    let (_, sink, _) = ingest(&Tueg, &dir.0, true, 0.0);
    let m = meta(&sink.samples[0]);
    assert_eq!(m.start.as_deref(), Some("2004-05-06T07:08:09"));
    assert_eq!(m.chunk.count, 1);
}

#[test]
fn edf_plus_d_gaps_split_chunks() {
    let dir = TempDir::new("tueg-d");
    let onsets = [0.5, 1.5, 2.5, 10.5, 11.5];
    write_edf(
        &dir.0.join("01_tcp_ar/aaaaaddd_s001_t000.edf"),
        Plus::Discontinuous,
        &[("EEG C3-REF", "uV", 100)],
        Some(&onsets),
        &[],
    );
    let (_, sink, errors) = ingest(&Tueg, &dir.0, true, 2.0);
    assert!(errors.is_empty(), "{errors:?}");
    let ms: Vec<Recording> = sink.samples.iter().map(meta).collect();
    let offs: Vec<(f64, u64)> = ms.iter().map(|m| (m.chunk.offset_s, m.n_samples)).collect();
    // 3 s then a gap then 2 s: chunks (0, 2 s), (2, 1 s), (10, 2 s).
    assert_eq!(offs, [(0.0, 200), (2.0, 100), (10.0, 200)]);
    assert!(ms.iter().all(|m| m.chunk.count == 3));
    assert_eq!(ms[0].start.as_deref(), Some("2004-05-06T07:08:09.500000"));
}

const XML_START: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<PSGAnnotation><SoftwareVersion>Compumedics</SoftwareVersion><EpochLength>30</EpochLength>
<ScoredEvents>
<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start><Duration>10.0</Duration><ClockTime>00.00.00 07.08.09</ClockTime></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept><Start>0</Start><Duration>5.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Stage 2 sleep|2</EventConcept><Start>5</Start><Duration>5.0</Duration></ScoredEvent>
<ScoredEvent><EventType>Respiratory|Respiratory</EventType><EventConcept>Obstructive apnea|Obstructive Apnea</EventConcept><Start>6.5</Start><Duration>2.5</Duration><SignalLocation>ABDO RES</SignalLocation></ScoredEvent>
</ScoredEvents></PSGAnnotation>
"#;

#[test]
fn nsrr_tree() {
    let dir = TempDir::new("nsrr");
    let sig = [
        ("EEG(sec)", "uV", 125),
        ("EEG", "uV", 125),
        ("ECG", "mV", 250),
        ("SaO2", "%", 1),
    ];
    write_edf(
        &dir.0.join("polysomnography/edfs/shhs1/shhs1-200001.edf"),
        Plus::None,
        &sig,
        None,
        &[],
    );
    std::fs::create_dir_all(dir.0.join("polysomnography/annotations-events-nsrr/shhs1")).unwrap();
    std::fs::write(
        dir.0
            .join("polysomnography/annotations-events-nsrr/shhs1/shhs1-200001-nsrr.xml"),
        XML_START,
    )
    .unwrap();
    // The translator's spelling: Starttime instead of Start.
    write_edf(
        &dir.0.join("polysomnography/edfs/shhs1/shhs1-200002.edf"),
        Plus::None,
        &sig,
        None,
        &[],
    );
    std::fs::write(
        dir.0
            .join("polysomnography/annotations-events-nsrr/shhs1/shhs1-200002-nsrr.xml"),
        XML_START
            .replace("<Start>", "<Starttime>")
            .replace("</Start>", "</Starttime>"),
    )
    .unwrap();
    let (units, sink, errors) = ingest(&Nsrr, &dir.0, false, 0.0);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(units.len(), 2);
    assert_eq!(units[0].subject.as_deref(), Some("200001"));
    assert_eq!(units[0].session.as_deref(), Some("shhs1"));
    assert_eq!(units[0].inputs.len(), 2);
    assert_eq!(sink.samples.len(), 2);
    for s in &sink.samples {
        let m = meta(s);
        assert_eq!(m.sampling_rate, 125.0);
        assert_eq!(
            m.channels.len(),
            2,
            "ECG at 250 Hz and SaO2 at 1 Hz are left out"
        );
        let texts: Vec<(&str, f64)> = m
            .annotations
            .iter()
            .map(|a| (a.text.as_str(), a.onset_s))
            .collect();
        assert_eq!(
            texts,
            [
                ("Sleep stage W", 0.0),
                ("Sleep stage 2", 5.0),
                ("Obstructive apnea", 6.5)
            ]
        );
        assert_eq!(signal(s).0, [2, 1250]);
    }
}
