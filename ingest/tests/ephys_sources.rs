//! The EEG adapters (tueg, nsrr) on synthetic trees that copy each real layout, with EDF files
//! written by `bomdata_testdata::eeg`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use bomdata_ingest::sources::{nsrr::Nsrr, tueg::Tueg};
use bomdata_schemas::eeg::{ChannelType, Recording, Reference};
use bomdata_shard::{Sample, npy};
use bomdata_testdata::TempDir;
use bomdata_testdata::edf::ramp as digital;
use bomdata_testdata::eeg;
use common::ingest;

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

#[test]
fn tueg_tree() {
    let dir = TempDir::new("tueg");
    eeg::tueg_tree(&dir.0);
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
    eeg::tueg_discontinuous(&dir.0);
    let (_, sink, errors) = ingest(&Tueg, &dir.0, true, 2.0);
    assert!(errors.is_empty(), "{errors:?}");
    let ms: Vec<Recording> = sink.samples.iter().map(meta).collect();
    let offs: Vec<(f64, u64)> = ms.iter().map(|m| (m.chunk.offset_s, m.n_samples)).collect();
    // 3 s then a gap then 2 s: chunks (0, 2 s), (2, 1 s), (10, 2 s).
    assert_eq!(offs, [(0.0, 200), (2.0, 100), (10.0, 200)]);
    assert!(ms.iter().all(|m| m.chunk.count == 3));
    assert_eq!(ms[0].start.as_deref(), Some("2004-05-06T07:08:09.500000"));
}

#[test]
fn nsrr_tree() {
    let dir = TempDir::new("nsrr");
    eeg::nsrr_tree(&dir.0);
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
