//! The `bids_ephys` and `ajile12` adapters on synthetic trees that copy the real layouts: BIDS
//! EEG/iEEG with EDF and BrainVision files and the BIDS sidecars (`bomdata_testdata::eeg`); an
//! AJILE12-shaped NWB file written with the HDF5 library.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;

use bomdata_edf::Header;
use bomdata_edf::header::{Plus, Signal, StartDateTime, Variant};
use bomdata_edf::io::Writer;
use bomdata_ingest::Source;
use bomdata_ingest::Unit;
use bomdata_ingest::sink::MemSink;
use bomdata_ingest::sources::{ajile12::Ajile12, bids_ephys::BidsEphys};
use bomdata_schemas::Modality;
use bomdata_schemas::eeg::{ChannelType, Recording, Reference};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::{Sample, npy};
use bomdata_testdata::TempDir;
use bomdata_testdata::edf::ramp as digital;
use bomdata_testdata::eeg::{
    BIDS_BV_REC as BV_REC, BIDS_EDF_REC as EDF_REC, bids_eeg_tree as bids_tree, bv_value,
};
use bomdata_testdata::files::write;
use common::ingest;

fn meta(s: &Sample) -> Recording {
    serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap()
}

fn raw_meta(s: &Sample) -> String {
    String::from_utf8_lossy(&s.member("meta.json").unwrap().data).into_owned()
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

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1e-3)
}

/// The planned units of the BIDS tree: ids, subjects, runs and sidecars.
fn check_bids_units(units: &[Unit]) {
    let u = units
        .iter()
        .find(|u| u.inputs[0] == Path::new(EDF_REC))
        .unwrap();
    assert_eq!(u.subject.as_deref(), Some("NDARAA111"));
    assert_eq!(u.session, None);
    assert_eq!(u.detail["modality"], "eeg");
    assert_eq!(u.detail["run"], "task-rest");
    assert_eq!(
        u.detail["electrodes"],
        "sub-NDARAA111/eeg/sub-NDARAA111_space-CapTrak_electrodes.tsv"
    );
    assert_eq!(u.detail["sidecar"], "task-rest_eeg.json");
    let u = units
        .iter()
        .find(|u| u.inputs[0] == Path::new(BV_REC))
        .unwrap();
    assert_eq!(u.session.as_deref(), Some("1"));
    assert_eq!(u.detail["run"], "task-rest_run-1");
    assert!(u.inputs.iter().any(|p| p.extension().unwrap() == "vmrk"));
    assert!(u.detail["channels"].is_null());
}

/// The EDF recording: 10 s at 256 Hz in 4 s chunks, channel selection, values, events.
fn check_bids_edf(sink: &MemSink) {
    // EDF: 10 s at 256 Hz in 4 s chunks → 4 + 4 + 2 s; Pz bad and Resp (64 Hz) left out.
    let edf: Vec<&Sample> = sink
        .samples
        .iter()
        .filter(|s| {
            meta(s)
                .provenance
                .unwrap()
                .reader
                .starts_with("bomdata-edf")
        })
        .collect();
    assert_eq!(edf.len(), 3);
    assert!(
        sink.skipped
            .iter()
            .any(|(_, r)| r.contains("\"Pz\"") && r.contains("bad"))
    );
    assert!(sink.skipped.iter().any(|(_, r)| r.contains("\"Resp\"")));
    for (i, s) in edf.iter().enumerate() {
        let m = meta(s);
        assert_eq!(m.schema, "eeg/1");
        assert_eq!(m.modality, Modality::Eeg);
        assert_eq!(m.sampling_rate, 256.0);
        assert_eq!(m.chunk.index as usize, i);
        assert_eq!(m.chunk.count, 3);
        assert_eq!(m.chunk.offset_s, 4.0 * i as f64);
        assert_eq!(m.reference, Reference::Common("CZ".into()));
        assert_eq!(m.power_line_hz, Some(60.0));
        assert_eq!(m.coord_frame.as_deref(), Some("bids:CapTrak"));
        let names: Vec<&str> = m.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["FP1", "T7", "EOG1"]);
        let types: Vec<ChannelType> = m.channels.iter().map(|c| c.channel_type).collect();
        assert_eq!(
            types,
            [ChannelType::Eeg, ChannelType::Eeg, ChannelType::Eog]
        );
        assert!(m.channels.iter().all(|c| c.unit == "uV"));
        assert_eq!(m.channels[1].original_name, "T3");
        let p = m.channels[0].xyz_mm;
        assert!(
            close(p[0], -30.0) && close(p[1], 80.0) && close(p[2], 20.0),
            "{p:?}"
        );
        assert!(m.channels[1].xyz_mm.iter().all(|v| v.is_nan()));
        assert!(m.channels[2].xyz_mm.iter().all(|v| v.is_nan()));
        let f = m.provenance.as_ref().unwrap().file.clone();
        assert!(
            f.starts_with("sub-") && f.ends_with("_task-rest_eeg.edf"),
            "{f}"
        );
        assert!(m.provenance.unwrap().part.is_some());
        let n = if i < 2 { 1024 } else { 512 };
        assert_eq!(m.n_samples, n as u64);
        let (shape, vals) = signal(s);
        assert_eq!(shape, [3, n]);
        // Source values: digital × 0.1 in the file's unit; T3 is mV → ×1000.
        for (row, (c, factor)) in [(0usize, 1.0), (1, 1000.0), (2, 1.0)]
            .into_iter()
            .enumerate()
        {
            for k in [0, 1, n / 2, n - 1] {
                let want = digital(c, i * 1024 + k) as f64 * 0.1 * factor;
                let got = vals[row * n + k] as f64;
                assert!(
                    close(got, want),
                    "chunk {i} row {row} k {k}: {got} vs {want}"
                );
            }
        }
    }
    // events.tsv replaces the file's annotations; onsets per chunk.
    let a0 = meta(edf[0]).annotations;
    assert_eq!(a0.len(), 1);
    assert_eq!((a0[0].onset_s, a0[0].duration_s), (1.5, Some(0.5)));
    assert_eq!(a0[0].text, "stim/12");
    let a1 = meta(edf[1]).annotations;
    assert_eq!(a1.len(), 1);
    assert_eq!((a1[0].onset_s, a1[0].duration_s), (1.0, None));
    assert_eq!(a1[0].text, "resp");
    let a2 = meta(edf[2]).annotations;
    assert_eq!((a2[0].onset_s, a2[0].text.as_str()), (1.5, "end"));
}

/// The BrainVision recording: one chunk, positions from the template, file markers.
fn check_bids_brainvision(sink: &MemSink) {
    // BrainVision: 500 samples at 250 Hz, shorter than one 4 s chunk.
    let bv: Vec<Recording> = sink
        .samples
        .iter()
        .map(meta)
        .filter(|m| {
            m.provenance
                .as_ref()
                .unwrap()
                .file
                .ends_with("run-1_eeg.vhdr")
        })
        .collect();
    assert_eq!(bv.len(), 1);
    let m = &bv[0];
    assert_eq!(m.sampling_rate, 250.0);
    assert_eq!(m.n_samples, 500);
    assert_eq!(m.chunk.count, 1);
    assert_eq!(m.reference, Reference::Common("CZ".into()));
    assert_eq!(m.power_line_hz, Some(60.0));
    let names: Vec<&str> = m.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["FP2", "CZ", "ECG"]);
    assert_eq!(m.channels[2].channel_type, ChannelType::Ecg);
    assert_eq!(m.coord_frame.as_deref(), Some("fsaverage_1005_mm"));
    assert!(m.channels[0].xyz_mm[0] > 0.0);
    assert!(m.channels[2].xyz_mm[0].is_nan());
    // Markers of the file (no events.tsv): onset (126 − 1) / 250.
    assert_eq!(m.annotations.len(), 1);
    assert_eq!(m.annotations[0].onset_s, 0.5);
    assert!(m.annotations[0].text.starts_with("Stimulus"));
    let s = sink
        .samples
        .iter()
        .find(|s| meta(s).provenance.unwrap().file.ends_with("run-1_eeg.vhdr"))
        .unwrap();
    assert!(s.key.contains("_1_task-rest_run-1_eeg_000000"), "{}", s.key);
    let (shape, vals) = signal(s);
    assert_eq!(shape, [3, 500]);
    for (row, factor) in [(0usize, 0.5), (1, 0.5), (2, 0.1 * 1000.0)] {
        for k in [0, 7, 499] {
            let want = bv_value(row, k) as f64 * factor;
            assert!(close(vals[row * 500 + k] as f64, want), "row {row} k {k}");
        }
    }
}

/// The iEEG recording: names as given, positions from electrodes.tsv.
fn check_bids_ieeg(sink: &MemSink) {
    // iEEG: names as given (T3 is a grid contact, not renamed), positions from electrodes.tsv.
    let ie: Vec<Recording> = sink
        .samples
        .iter()
        .map(meta)
        .filter(|m| m.modality == Modality::Ieeg)
        .collect();
    assert_eq!(ie.len(), 1);
    let m = &ie[0];
    let names: Vec<&str> = m.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["LA1", "T3"]);
    assert!(
        m.channels
            .iter()
            .all(|c| c.channel_type == ChannelType::Eeg && c.unit == "uV")
    );
    assert_eq!(m.channels[0].xyz_mm, [-20.5, 10.0, 5.0]);
    assert_eq!(m.channels[1].xyz_mm, [-60.0, -10.0, 0.0]);
    assert_eq!(m.coord_frame.as_deref(), Some("bids:ACPC"));
    assert_eq!(m.reference, Reference::Bipolar);
    assert_eq!(m.power_line_hz, Some(50.0));
}

#[test]
fn bids_eeg_tree() {
    let dir = TempDir::new("bids");
    bids_tree(&dir.0);
    let (units, sink, errors) = ingest(&BidsEphys, &dir.0, false, 4.0);
    let ids: Vec<&str> = units.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(units.len(), 4, "{ids:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].0.contains("NDARCC333"), "{errors:?}");
    assert!(errors[0].1.contains("does not match"), "{errors:?}");

    check_bids_units(&units);
    for s in &sink.samples {
        let raw = raw_meta(s);
        for secret in [
            "NDARAA111",
            "NDARBB222",
            "Jane",
            "secret-site",
            "2019-05-06",
        ] {
            assert!(!raw.contains(secret), "{secret} in {raw}");
            assert!(!s.key.contains(secret), "{secret} in key {}", s.key);
        }
        assert_eq!(meta(s).start, None);
    }

    check_bids_edf(&sink);
    check_bids_brainvision(&sink);
    check_bids_ieeg(&sink);

    let mut rows = SubjectRow::merge_rows(sink.subjects.clone());
    rows.sort_by(|a, b| a.session.cmp(&b.session));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.source == "bids_ephys" && !r.subject.contains("NDAR"))
    );
    assert_eq!(rows[1].modalities, [Modality::Eeg, Modality::Ieeg]);
}

#[test]
fn bids_keep_identity_and_whole_recordings() {
    let dir = TempDir::new("bids-keep");
    bids_tree(&dir.0);
    let (_, sink, errors) = ingest(&BidsEphys, &dir.0, true, 0.0);
    assert_eq!(errors.len(), 1);
    let edf: Vec<Recording> = sink
        .samples
        .iter()
        .map(meta)
        .filter(|m| {
            m.provenance
                .as_ref()
                .unwrap()
                .reader
                .starts_with("bomdata-edf")
        })
        .collect();
    assert_eq!(edf.len(), 1);
    assert_eq!(edf[0].n_samples, 2560);
    assert_eq!(edf[0].chunk.count, 1);
    assert_eq!(edf[0].start.as_deref(), Some("2019-05-06T07:08:09"));
    assert_eq!(edf[0].provenance.as_ref().unwrap().file, EDF_REC);
    assert_eq!(edf[0].annotations.len(), 3);
}

/// An EDF+D recording with a gap in a BIDS tree: split at the gap (as the tueg path does),
/// not refused.
#[test]
fn bids_edf_plus_d_gaps_split_chunks() {
    let dir = TempDir::new("bids-edfd");
    write(
        &dir.0.join("dataset_description.json"),
        r#"{"Name": "synthetic", "BIDSVersion": "1.9.0"}"#,
    );
    let onsets = [0.5, 1.5, 2.5, 10.5, 11.5];
    let h = Header::builder(Variant::Edf)
        .with_plus(Plus::Discontinuous)
        .with_start(StartDateTime {
            year: 2019,
            month: 5,
            day: 6,
            hour: 7,
            minute: 8,
            second: 9,
        })
        .with_n_records(onsets.len() as u64)
        .with_signal(Signal::new(
            "Cz",
            "uV",
            (-3276.8, 3276.7),
            (-32768, 32767),
            100,
        ))
        .with_signal(Signal::annotations(Variant::Edf, 120))
        .build()
        .unwrap();
    let mut w = Writer::new(Vec::new());
    w.write_header(&h).unwrap();
    for (r, &onset) in onsets.iter().enumerate() {
        let data: Vec<i32> = (0..100).map(|k| digital(0, r * 100 + k)).collect();
        w.write_digital_record_at(&h, onset, &[&data], &[]).unwrap();
    }
    write(
        &dir.0
            .join("sub-NDARDD444/eeg/sub-NDARDD444_task-rest_eeg.edf"),
        w.finish().unwrap(),
    );
    let (_, sink, errors) = ingest(&BidsEphys, &dir.0, true, 2.0);
    assert!(errors.is_empty(), "{errors:?}");
    let ms: Vec<Recording> = sink.samples.iter().map(meta).collect();
    let offs: Vec<(f64, u64)> = ms.iter().map(|m| (m.chunk.offset_s, m.n_samples)).collect();
    // 3 s then a gap then 2 s: chunks (0, 2 s), (2, 1 s), (10, 2 s).
    assert_eq!(offs, [(0.0, 200), (2.0, 100), (10.0, 200)]);
    assert!(ms.iter().all(|m| m.chunk.count == 3));
    assert_eq!(ms[0].start.as_deref(), Some("2019-05-06T07:08:09.500000"));
    let parts: Vec<&str> = ms
        .iter()
        .map(|m| m.provenance.as_ref().unwrap().part.as_deref().unwrap())
        .collect();
    assert_eq!(
        parts,
        ["samples 0-199", "samples 200-299", "samples 300-499"]
    );
    // The samples after the gap are the file's fourth record.
    let (shape, vals) = signal(&sink.samples[2]);
    assert_eq!(shape, [1, 200]);
    assert!((f64::from(vals[0]) - 0.1 * f64::from(digital(0, 300))).abs() < 0.06);
}

#[test]
fn ajile12_plan() {
    let dir = TempDir::new("ajile-plan");
    write(
        &dir.0.join("sub-01/sub-01_ses-3_behavior+ecephys.nwb"),
        b"not hdf5",
    );
    write(&dir.0.join("dandiset.yaml"), b"identifier: DANDI:000055\n");
    let units = Ajile12.plan(&dir.0).unwrap();
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].subject.as_deref(), Some("01"));
    assert_eq!(units[0].session.as_deref(), Some("3"));
    let (_, sink, errors) = ingest(&Ajile12, &dir.0, false, 1.0);
    assert!(sink.samples.is_empty());
    assert_eq!(errors.len(), 1);
    #[cfg(not(feature = "hdf5"))]
    assert!(errors[0].1.contains("built without hdf5"), "{errors:?}");
}

#[cfg(feature = "hdf5")]
fn write_nwb(path: &Path, n: usize, n_ch: usize) {
    use bomdata_ephys::nwb::hdf5;
    use hdf5::types::VarLenUnicode;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let vl = |s: &str| s.parse::<VarLenUnicode>().unwrap();
    let f = hdf5::File::create(path).unwrap();
    f.new_dataset::<VarLenUnicode>()
        .shape(())
        .create("session_start_time")
        .unwrap()
        .write_scalar(&vl("2015-03-04T05:06:07-08:00"))
        .unwrap();
    f.new_dataset::<VarLenUnicode>()
        .shape(())
        .create("identifier")
        .unwrap()
        .write_scalar(&vl("subject-secret-id"))
        .unwrap();
    let t = f
        .create_group("general/extracellular_ephys/electrodes")
        .unwrap();
    let ids: Vec<i64> = (0..n_ch as i64).collect();
    t.new_dataset_builder()
        .with_data(&ids)
        .create("id")
        .unwrap();
    let col = |k: usize| -> Vec<f64> {
        (0..n_ch)
            .map(|c| {
                if c == 1 && k == 0 {
                    f64::NAN
                } else {
                    (c * 10 + k) as f64 - 40.5
                }
            })
            .collect()
    };
    for (k, name) in ["x", "y", "z"].into_iter().enumerate() {
        t.new_dataset_builder()
            .with_data(&col(k))
            .create(name)
            .unwrap();
    }
    let g = f.create_group("acquisition/ElectricalSeries").unwrap();
    g.new_attr::<VarLenUnicode>()
        .shape(())
        .create("neurodata_type")
        .unwrap()
        .write_scalar(&vl("ElectricalSeries"))
        .unwrap();
    let data: Vec<f32> = (0..n * n_ch)
        .map(|i| nwb_value(i / n_ch, i % n_ch))
        .collect();
    let d = g
        .new_dataset::<f32>()
        .shape((n, n_ch))
        .create("data")
        .unwrap();
    d.write_raw(&data).unwrap();
    d.new_attr::<f64>()
        .shape(())
        .create("conversion")
        .unwrap()
        .write_scalar(&1e-6)
        .unwrap();
    d.new_attr::<VarLenUnicode>()
        .shape(())
        .create("unit")
        .unwrap()
        .write_scalar(&vl("volts"))
        .unwrap();
    let st = g
        .new_dataset::<f64>()
        .shape(())
        .create("starting_time")
        .unwrap();
    st.write_scalar(&0.0).unwrap();
    st.new_attr::<f64>()
        .shape(())
        .create("rate")
        .unwrap()
        .write_scalar(&500.0)
        .unwrap();
    g.new_dataset_builder()
        .with_data(&ids)
        .create("electrodes")
        .unwrap();
    // Pose keypoints at 30 fps (timestamps).
    let p = f
        .create_group("processing/behavior/data_interfaces/Position/L_Wrist")
        .unwrap();
    p.new_attr::<VarLenUnicode>()
        .shape(())
        .create("neurodata_type")
        .unwrap()
        .write_scalar(&vl("SpatialSeries"))
        .unwrap();
    let m = n * 30 / 500;
    let pos: Vec<f64> = (0..m * 2).map(|i| i as f64).collect();
    p.new_dataset::<f64>()
        .shape((m, 2))
        .create("data")
        .unwrap()
        .write_raw(&pos)
        .unwrap();
    let ts: Vec<f64> = (0..m).map(|i| i as f64 / 30.0).collect();
    p.new_dataset_builder()
        .with_data(&ts)
        .create("timestamps")
        .unwrap();
}

#[cfg(feature = "hdf5")]
fn nwb_value(k: usize, c: usize) -> f32 {
    ((k % 777) as f32 - 300.0) * 0.25 + c as f32
}

#[cfg(feature = "hdf5")]
#[test]
fn ajile12_tree() {
    let dir = TempDir::new("ajile");
    let rec = "000055/sub-01/sub-01_ses-3_behavior+ecephys.nwb";
    write_nwb(&dir.0.join(rec), 1250, 4);
    // A broken file fails alone.
    write(
        &dir.0
            .join("000055/sub-02/sub-02_ses-4_behavior+ecephys.nwb"),
        b"\x89HDF\r\n\x1a\ngarbage",
    );
    // A real NWB file (pynwb 2.1.0) without an ElectricalSeries: refused with a clear error.
    let real = dir
        .0
        .join("000055/sub-03/sub-03_ses-1_behavior+ecephys.nwb");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::copy(
        bomdata_testdata::require_fixtures().join("nwb/pynwb_2.1.0_nwbfile_with_extension.nwb"),
        &real,
    )
    .unwrap();
    let (units, sink, errors) = ingest(&Ajile12, &dir.0, false, 1.0);
    assert_eq!(units.len(), 3);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].0.contains("sub-02"));
    assert!(
        errors[1].0.contains("sub-03") && errors[1].1.contains("no ElectricalSeries"),
        "{errors:?}"
    );
    // 1250 samples at 500 Hz in 1 s chunks → 500 + 500 + 250.
    assert_eq!(sink.samples.len(), 3);
    assert!(
        sink.skipped
            .iter()
            .any(|(_, r)| r.contains("SpatialSeries")),
        "{:?}",
        sink.skipped
    );
    for (i, s) in sink.samples.iter().enumerate() {
        let m = meta(s);
        let raw = raw_meta(s);
        assert!(!raw.contains("secret") && !raw.contains("2015"), "{raw}");
        assert!(!s.key.contains("_01_"), "{}", s.key);
        assert!(s.key.ends_with(&format!("_3_ieeg_{i:06}")), "{}", s.key);
        assert_eq!(m.modality, Modality::Ieeg);
        assert_eq!(m.sampling_rate, 500.0);
        assert_eq!(m.chunk.count, 3);
        assert_eq!(m.chunk.offset_s, i as f64);
        assert_eq!(m.coord_frame.as_deref(), Some("nwb_electrodes_as_given"));
        assert_eq!(m.channels.len(), 4);
        assert!(
            m.channels
                .iter()
                .all(|c| c.channel_type == ChannelType::Eeg && c.unit == "uV")
        );
        assert_eq!(m.channels[0].name, "ElectricalSeries[0]");
        assert_eq!(m.channels[2].xyz_mm, [-20.5, -19.5, -18.5]);
        assert!(m.channels[1].xyz_mm[0].is_nan());
        assert_eq!(m.channels[1].xyz_mm[1], -29.5);
        let f = m.provenance.unwrap().file;
        assert!(f.starts_with("000055/sub-") && !f.contains("sub-01"), "{f}");
        let n = if i < 2 { 500 } else { 250 };
        let (shape, vals) = signal(s);
        assert_eq!(shape, [4, n]);
        for c in 0..4 {
            for k in [0, 1, n - 1] {
                // stored × conversion (1e-6 V) → µV: the stored value itself.
                let want = nwb_value(i * 500 + k, c) as f64 * 1e-6 * 1e6;
                assert!(close(vals[c * n + k] as f64, want), "c {c} k {k}");
            }
        }
    }
    assert_eq!(sink.subjects.len(), 1);
    assert_eq!(sink.subjects[0].modalities, [Modality::Ieeg]);
    assert_eq!(sink.subjects[0].session, "3");
}

/// Real BrainVision, EEGLAB and FIF files from the fixture corpus (`tests/fixtures`), renamed into a BIDS
/// tree: every value written equals the reference reader's (MNE, SI units) after the unit
/// change (×1e6 for volts → µV; MEG stays in T and T/m). Fails, never skips, when the corpus
/// is absent.
#[test]
fn real_fixture_files_in_a_bids_tree() {
    let fx = bomdata_testdata::require_fixtures();
    let dir = TempDir::new("bids-fixtures");
    let root = &dir.0;
    let copy = |from: &str, to: &str| {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fx.join(from), to).unwrap();
    };
    // BrainVision: the header names its data files, which keep their names.
    copy(
        "brainvision/test_NO.vhdr",
        "sub-01/eeg/sub-01_task-bv_eeg.vhdr",
    );
    copy("brainvision/test_NO.eeg", "sub-01/eeg/test_NO.eeg");
    copy("brainvision/test_NO.vmrk", "sub-01/eeg/test_NO.vmrk");
    copy(
        "eeglab/test_raw_2021.set",
        "sub-01/eeg/sub-01_task-set_eeg.set",
    );
    copy(
        "fif/test_move_anon_erm_raw.fif",
        "sub-01/meg/sub-01_task-noise_meg.fif",
    );
    let (units, sink, errors) = ingest(&BidsEphys, root, false, 0.0);
    assert_eq!(units.len(), 3);
    assert!(errors.is_empty(), "{errors:?}");
    let cases = [
        (
            "brainvision/test_NO.vhdr.expected.json",
            "mne",
            "_task-bv_eeg.vhdr",
        ),
        (
            "eeglab/test_raw_2021.set.expected.json",
            "mne_raw",
            "_task-set_eeg.set",
        ),
        (
            "fif/test_move_anon_erm_raw.fif.expected.json",
            "mne",
            "_task-noise_meg.fif",
        ),
    ];
    for (expected, reader, suffix) in cases {
        let want: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fx.join(expected)).unwrap()).unwrap();
        let want = &want[reader];
        let s = sink
            .samples
            .iter()
            .find(|s| meta(s).provenance.unwrap().file.ends_with(suffix))
            .unwrap();
        let m = meta(s);
        let (shape, vals) = signal(s);
        let n = want["n_times"].as_u64().unwrap() as usize;
        assert_eq!(m.sampling_rate, want["sfreq"].as_f64().unwrap(), "{suffix}");
        assert_eq!(
            shape,
            [want["nchan"].as_u64().unwrap() as usize, n],
            "{suffix}"
        );
        for (row, (c, wc)) in m
            .channels
            .iter()
            .zip(want["channels"].as_array().unwrap())
            .enumerate()
        {
            assert_eq!(c.original_name, wc["name"].as_str().unwrap(), "{suffix}");
            // SI → stored unit: volts become µV, anything else (T, T/m, stim) is kept.
            let f = if c.unit == "uV" { 1e6 } else { 1.0 };
            let first: Vec<f64> = wc["first10"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() * f)
                .collect();
            for (k, w) in first.iter().enumerate() {
                let g = vals[row * n + k] as f64;
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs() + 1e-30,
                    "{suffix} {} sample {k}: {g} vs {w}",
                    c.original_name
                );
            }
            let sum: f64 = vals[row * n..(row + 1) * n].iter().map(|&v| v as f64).sum();
            let wsum = wc["stats"]["sum"].as_f64().unwrap() * f;
            let scale = wc["stats"]["max"]
                .as_f64()
                .unwrap()
                .abs()
                .max(wc["stats"]["min"].as_f64().unwrap().abs())
                * f
                * n as f64;
            assert!(
                (sum - wsum).abs() <= 1e-6 * scale + 1e-30,
                "{suffix} {}: sum {sum} vs {wsum}",
                c.original_name
            );
        }
        let expect_mod = if suffix.contains("meg") {
            Modality::Meg
        } else {
            Modality::Eeg
        };
        assert_eq!(m.modality, expect_mod);
    }
}
