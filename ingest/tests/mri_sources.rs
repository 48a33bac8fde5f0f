//! The MRI/PET adapters (bids, ukb, hcp, adni) on synthetic trees that copy each real layout,
//! with small real-format NIfTI files (`bomdata_testdata::mri`).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use bomdata_ingest::sink::MemSink;
use bomdata_ingest::sources::{adni::Adni, bids::Bids, hcp::Hcp, ukb::Ukb};
use bomdata_schemas::Modality;
use bomdata_schemas::mri::VolumeMeta;
use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::{Sample, npy};
use bomdata_testdata::{TempDir, mri};
use common::ingest;

fn meta(s: &Sample) -> VolumeMeta {
    serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap()
}

/// Checks `volume.npy` is the C-order float32 array of shape (x, y, z[, t]) with the scaled
/// values `(i % 100) * 0.5 + 10` of the file-order voxel index i.
fn check_volume(s: &Sample, shape: &[u64]) {
    let bytes = &s.member("volume.npy").unwrap().data;
    let v = npy::decode(bytes).unwrap();
    assert_eq!(v.dtype, npy::Dtype::F32);
    let shape_us: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    assert_eq!(v.shape, shape_us);
    let data: Vec<f32> = bytes[v.data_offset..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = data.len();
    // Walk C order: the last axis fastest; file order has the first axis fastest.
    let mut idx = vec![0usize; shape_us.len()];
    for (c, value) in data.iter().enumerate().take(n) {
        let mut f = 0usize;
        for a in (0..idx.len()).rev() {
            f = f * shape_us[a] + idx[a];
        }
        assert_eq!(
            *value,
            ((f % 100) as f64 * 0.5 + 10.0) as f32,
            "C index {c} = {idx:?}"
        );
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < shape_us[a] {
                break;
            }
            idx[a] = 0;
        }
    }
}

fn no_identity(sink: &MemSink, originals: &[&str]) {
    for s in &sink.samples {
        let m = std::str::from_utf8(&s.member("meta.json").unwrap().data)
            .unwrap()
            .to_string();
        assert!(!m.contains("John Doe"), "descrip leaked into {}", s.key);
        for id in originals {
            assert!(!s.key.contains(id), "original id {id} in key {}", s.key);
            assert!(
                !m.contains(&format!("\"{id}\"")),
                "original id {id} in meta of {}",
                s.key
            );
        }
    }
}

#[test]
fn bids_tree() {
    let dir = TempDir::new("bids");
    let root = dir.0.as_path();
    mri::bids_tree(root);

    let (units, sink, errors) = ingest(&Bids, root, false, 0.0);
    assert_eq!(
        units.len(),
        6,
        "{:#?}",
        units.iter().map(|u| &u.id).collect::<Vec<_>>()
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains("sub-pat03_T1w.nii") && errors[0].1.contains("sizeof_hdr"),
        "{}",
        errors[0].1
    );
    assert!(!errors[0].1.contains('\n'));
    assert_eq!(sink.samples.len(), 5);

    let by_kind = |k: &str| {
        sink.samples
            .iter()
            .find(|s| meta(s).kind.as_deref() == Some(k))
            .unwrap()
    };
    let t1 = by_kind("T1w");
    check_volume(t1, &[4, 5, 6]);
    let m = meta(t1);
    assert_eq!(m.modality, Modality::Smri);
    assert_eq!(m.affine[1][3], -126.0);
    assert_eq!(m.voxel_size, [2.0, 2.0, 2.0]);
    assert!(m.scaling.applied && m.scaling.slope == 0.5 && m.scaling.inter == 10.0);
    // The original subject label never reaches a sample: the path carries the pseudonym.
    assert!(
        !m.provenance.file.contains("pat01"),
        "{}",
        m.provenance.file
    );
    assert!(m.provenance.file.ends_with("_T1w.nii.gz") && m.provenance.file.starts_with("sub-"));
    assert!(m.identity.is_none());

    let bold = by_kind("bold");
    check_volume(bold, &[3, 4, 2, 5]);
    let m = meta(bold);
    assert_eq!(
        (m.modality, m.repetition_time_s, m.task.as_deref()),
        (Modality::Fmri, Some(2.0), Some("rest"))
    );
    assert!(
        bold.key.contains("_1_task-rest_run-1_bold_fmri"),
        "{}",
        bold.key
    );

    let dwi = meta(by_kind("dwi"));
    let g = dwi.gradients.unwrap();
    assert_eq!(g.bvals, vec![0.0, 1000.0, 2000.0]);
    assert_eq!(g.bvecs[2], [0.0, 1.0, 0.0]);

    let pet = meta(by_kind("pet"));
    assert_eq!(pet.frames.unwrap().starts_s, vec![0.0, 300.0]);

    // Subject rows: sub-pat01 has smri (no session) and fmri + dmri in ses-1.
    let rows = SubjectRow::merge_rows(sink.subjects.clone());
    let ses1 = rows.iter().find(|r| r.session == "1").unwrap();
    assert_eq!(ses1.modalities, vec![Modality::Fmri, Modality::Dmri]);
    no_identity(&sink, &["sub-pat01", "sub-pat02", "pat01", "pat02"]);

    // With keep_identity the header text is kept.
    let (_, sink, _) = ingest(&Bids, root, true, 0.0);
    let kept = meta(&sink.samples[0]).identity.unwrap();
    assert_eq!(kept.descrip, "Patient John Doe 1970-01-01");
}

#[test]
fn ukb_zips_and_folders() {
    let dir = TempDir::new("ukb");
    let root = dir.0.as_path();
    mri::ukb_tree(root);

    let (units, sink, errors) = ingest(&Ukb, root, false, 0.0);
    // 20252 zips: 2 kinds each (x2 zips); 20250: 1; 20227: 2; 20253 zip: 2; folder: 1 present.
    assert_eq!(
        units.len(),
        10,
        "{:#?}",
        units.iter().map(|u| &u.id).collect::<Vec<_>>()
    );
    let mut msgs: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
    msgs.sort();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        msgs.iter()
            .filter(|m| m.contains("3456789_20252_2_0.zip") && m.contains("escapes"))
            .count()
            == 2,
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(
            |m| m.contains("5678901_20253_2_0.zip!T2_FLAIR/T2_FLAIR.nii.gz")
                && m.contains("data ends early")
        ),
        "{msgs:?}"
    );
    assert!(errors.iter().all(|(_, m)| !m.contains('\n')));
    // Missing members are reported as skipped, not failed.
    assert_eq!(sink.skipped.len(), 2, "{:?}", sink.skipped);
    assert_eq!(sink.samples.len(), 5);

    let kinds: Vec<String> = sink.samples.iter().map(|s| meta(s).kind.unwrap()).collect();
    assert_eq!(
        kinds,
        vec!["rfMRI", "dwi", "T1", "T1_brain_to_MNI", "T2_FLAIR"]
    );
    let by_kind = |k: &str| {
        sink.samples
            .iter()
            .find(|s| meta(s).kind.as_deref() == Some(k))
            .unwrap()
    };
    check_volume(by_kind("T1"), &[4, 3, 2]);
    check_volume(by_kind("T1_brain_to_MNI"), &[5, 4, 3]);
    check_volume(by_kind("T2_FLAIR"), &[4, 3, 2]);
    let m = meta(by_kind("dwi"));
    assert_eq!(m.gradients.unwrap().bvals.len(), 3);
    assert!(
        !m.provenance.file.contains("1234567"),
        "{}",
        m.provenance.file
    );
    assert_eq!(
        m.provenance.file.rsplit_once('!').map(|(_, member)| member),
        Some("dMRI/dMRI/data_ud.nii.gz")
    );
    let m = meta(by_kind("rfMRI"));
    assert_eq!(m.repetition_time_s, Some(0.735f32 as f64));
    assert!(
        by_kind("T1").key.ends_with("_2_T1_smri"),
        "{}",
        by_kind("T1").key
    );
    no_identity(&sink, &["1234567", "2345678", "4567890"]);
}

#[test]
fn hcp_tree() {
    let dir = TempDir::new("hcp");
    let root = dir.0.as_path();
    mri::hcp_tree(root);

    let (units, sink, errors) = ingest(&Hcp, root, false, 0.0);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(units.len(), 4);
    let metas: Vec<VolumeMeta> = sink.samples.iter().map(meta).collect();
    let rest = metas
        .iter()
        .find(|m| m.task.as_deref() == Some("REST1"))
        .unwrap();
    assert_eq!(
        (rest.modality, rest.kind.as_deref(), rest.shape.clone()),
        (Modality::Fmri, Some("rfMRI"), vec![3, 3, 3, 4])
    );
    assert!(metas.iter().any(|m| m.modality == Modality::Dmri
        && m.gradients.as_ref().unwrap().bvals == vec![5.0, 1000.0]));
    assert!(metas.iter().any(|m| m.modality == Modality::Smri));
    for s in &sink.samples {
        let m = meta(s);
        check_volume(s, &m.shape);
    }
    no_identity(&sink, &["100307"]);
}

#[test]
fn adni_tree() {
    let dir = TempDir::new("adni");
    let root = dir.0.as_path();
    mri::adni_tree(root);

    let (units, sink, errors) = ingest(&Adni, root, false, 0.0);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(units.len(), 4);
    let sessions: Vec<&str> = units
        .iter()
        .map(|u| u.session.as_deref().unwrap())
        .collect();
    assert_eq!(sessions, vec!["v01", "v01", "v02", "v01"]);
    let metas: Vec<VolumeMeta> = sink.samples.iter().map(meta).collect();
    assert_eq!(
        metas
            .iter()
            .filter(|m| m.modality == Modality::Smri)
            .count(),
        2
    );
    let rest = metas.iter().find(|m| m.modality == Modality::Fmri).unwrap();
    assert_eq!(rest.repetition_time_s, Some(3.0));
    assert!(metas.iter().any(|m| m.modality == Modality::Pet));
    let keys: Vec<&str> = sink.samples.iter().map(|s| s.key.as_str()).collect();
    let unique: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "{keys:?}");
    for k in &keys {
        assert!(!k.contains("I45108") && !k.contains("2006"), "{k}");
    }
    for s in &sink.samples {
        check_volume(s, &meta(s).shape);
    }
    no_identity(&sink, &["002_S_0295", "941_S_1195"]);
}
