//! DICOM series through the `adni` adapter (raw download layout) and the generic `dicom`
//! adapter, on the synthetic trees of `bomdata_testdata::dicom`: one unit per series, volume
//! values and affine equal to `bomdata_dicom::series::volume` on the same files, technical
//! metadata only, and a series with burned-in annotation refused (accepted with the flag).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};

use bomdata_ingest::sources::{adni::Adni, dicom::DicomFolder};
use bomdata_ingest::{Pseudonymizer, Source, UnitContext};
use bomdata_schemas::Modality;
use bomdata_schemas::mri::VolumeMeta;
use bomdata_shard::{Sample, npy};
use bomdata_testdata::TempDir;
use bomdata_testdata::dicom::{IDENTIFYING, Series, adni_dicom_tree, generic_dicom_tree};
use common::ingest;

fn meta(s: &Sample) -> VolumeMeta {
    serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap()
}

fn dicom_files(dir: &Path, s: &Series) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            bomdata_dicom::open(p)
                .ok()
                .and_then(|f| f.text(0x0020_000E))
                .is_some_and(|u| u == s.uid())
        })
        .collect();
    v.sort();
    v
}

/// The sample's `volume.npy` (C order) equals `series::volume` of the files (i fastest), and its
/// affine is the same.
fn check_against_series(sample: &Sample, files: &[PathBuf]) {
    let vol = bomdata_dicom::series::volume(files).unwrap();
    let m = meta(sample);
    let shape: Vec<u64> = vol.shape.iter().map(|&d| d as u64).collect();
    assert_eq!(m.shape, shape);
    for (a, b) in m.affine.iter().flatten().zip(vol.affine.iter().flatten()) {
        assert!((a - b).abs() < 1e-9, "{m:?}");
    }
    let bytes = &sample.member("volume.npy").unwrap().data;
    let a = npy::decode(bytes).unwrap();
    assert_eq!(a.shape, vol.shape);
    let data: Vec<f32> = bytes[a.data_offset..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (nx, ny, nz) = (vol.shape[0], vol.shape[1], vol.shape[2]);
    let nt = vol.shape.get(3).copied().unwrap_or(1);
    for (f, want) in vol.data.iter().enumerate() {
        let (i, j, k, t) = (f % nx, f / nx % ny, f / (nx * ny) % nz, f / (nx * ny * nz));
        let c = ((i * ny + j) * nz + k) * nt + t;
        assert_eq!(data[c], *want as f32, "voxel {i},{j},{k},{t}");
    }
}

fn no_identifying_text(samples: &[Sample]) {
    for s in samples {
        let text = String::from_utf8_lossy(&s.member("meta.json").unwrap().data).to_string();
        for needle in IDENTIFYING {
            assert!(!text.contains(needle), "{needle} in {text}");
            assert!(!s.key.contains(needle), "{needle} in {}", s.key);
        }
    }
}

#[test]
fn adni_raw_dicom_series_become_volumes() {
    let tmp = TempDir::new("adni-dicom");
    let series = adni_dicom_tree(&tmp.0);
    let (units, sink, errors) = ingest(&Adni, &tmp.0, false, 0.0);
    assert_eq!(units.len(), 4, "{units:#?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("BurnedInAnnotation"), "{errors:?}");
    assert_eq!(sink.samples.len(), 3);
    let by_kind = |k: &str| {
        sink.samples
            .iter()
            .find(|s| meta(s).kind.as_deref() == Some(k))
            .unwrap()
    };
    for (s, dir) in &series[..3] {
        let sample = by_kind(&s.description);
        check_against_series(sample, &dicom_files(dir, s));
        let m = meta(sample);
        let d = m.dicom.as_ref().unwrap();
        assert_eq!(d.modality, s.modality);
        assert_eq!(d.echo_time_s, Some(0.00298));
        assert_eq!(m.repetition_time_s, Some(2.3));
        assert!(
            m.provenance
                .file
                .ends_with(&format!("series-{}", &d.series[..16]))
        );
    }
    assert_eq!(meta(by_kind("MPRAGE")).modality, Modality::Smri);
    assert!(meta(by_kind("MPRAGE")).scaling.applied);
    assert_eq!(meta(by_kind("Resting_State_fMRI")).modality, Modality::Fmri);
    assert_eq!(meta(by_kind("Resting_State_fMRI")).shape, vec![6, 4, 3, 3]);
    let pet = meta(by_kind("AV45_Coreg,_Avg,_Std_Img_and_Vox_Siz"));
    assert_eq!(pet.modality, Modality::Pet);
    no_identifying_text(&sink.samples);
    // Visits: the fMRI and MPRAGE share the first date, the PET is the second visit.
    let sessions: Vec<&str> = units.iter().filter_map(|u| u.session.as_deref()).collect();
    assert!(sessions.contains(&"v02"), "{sessions:?}");
}

#[test]
fn burned_in_annotation_is_accepted_only_with_the_flag() {
    let tmp = TempDir::new("adni-dicom-burned");
    adni_dicom_tree(&tmp.0);
    let units = Adni.plan(&tmp.0).unwrap();
    let key = Pseudonymizer::new(b"test key".to_vec());
    let mut ctx = UnitContext::new(&tmp.0, "adni", &key);
    let burned = units
        .iter()
        .find(|u| u.subject.as_deref() == Some("005_S_0100"))
        .unwrap();
    let mut sink = bomdata_ingest::sink::MemSink::default();
    let e = Adni.convert(burned, &ctx, &mut sink).unwrap_err();
    assert!(e.to_string().contains("--allow-burned-in"), "{e}");
    ctx.allow_burned_in = true;
    Adni.convert(burned, &ctx, &mut sink).unwrap();
    assert_eq!(sink.samples.len(), 1);
}

#[test]
fn a_generic_dicom_folder_gives_one_unit_per_series() {
    let tmp = TempDir::new("generic-dicom");
    let series = generic_dicom_tree(&tmp.0);
    let (units, sink, errors) = ingest(&DicomFolder, &tmp.0, false, 0.0);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(units.len(), 3, "{units:#?}");
    assert_eq!(sink.samples.len(), 3);
    for (s, dir) in &series {
        let files = dicom_files(dir, s);
        let sample = sink
            .samples
            .iter()
            .find(|x| meta(x).dicom.unwrap().instances == files.len())
            .unwrap();
        check_against_series(sample, &files);
    }
    let subjects: std::collections::BTreeSet<&str> = sink
        .samples
        .iter()
        .filter_map(|s| s.subject.as_deref())
        .collect();
    assert_eq!(subjects.len(), 2);
    no_identifying_text(&sink.samples);
}
