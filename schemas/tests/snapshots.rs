//! Snapshots of the on-disk contracts: any change to a field name, order or encoding shows up
//! here as a snapshot diff in review.

use bomdata_schemas::manifest::{
    Counts, DatasetKind, IndexMember, IndexSample, Manifest, ProfileRecord, ShardEntry, ShardIndex,
    TableEntry,
};
use bomdata_schemas::report::{Outcome, ReportEntry};
use bomdata_schemas::subjects::{COLUMNS, SubjectRow};
use bomdata_schemas::{Modality, key};

#[test]
fn modalities() {
    let names: Vec<&str> = Modality::ALL.iter().map(|m| m.as_str()).collect();
    insta::assert_json_snapshot!(names);
}

#[test]
fn manifest_json() {
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.into(),
        kind: DatasetKind::Training,
        tool: "bomdata 0.1.0".into(),
        sources: vec!["hcp".into()],
        profile: Some(ProfileRecord {
            name: "swift".into(),
            params: serde_json::json!({"window": 20}),
        }),
        tokenizer: None,
        counts: Counts {
            samples: 2,
            shards: 1,
            bytes: 4096,
            units: 1,
            failed_units: 0,
            subjects: 1,
        },
        shards: vec![ShardEntry {
            name: "hcp-train-000000.tar".into(),
            index: "hcp-train-000000.tar.idx.json".into(),
            size: 4096,
            samples: 2,
            checksum: "0".repeat(32),
            split: Some("train".into()),
            compression: None,
            index_checksum: None,
        }],
        tables: vec![TableEntry {
            name: "subjects.parquet".into(),
            rows: 1,
            checksum: "1".repeat(32),
        }],
    };
    insta::assert_json_snapshot!(m);
}

#[test]
fn shard_index_json() {
    let idx = ShardIndex {
        shard: "x-000000.tar".into(),
        samples: vec![IndexSample {
            key: "hcp_ab_1_fmri_000000".into(),
            subject: Some("ab".into()),
            offset: 0,
            size: 2048,
            members: vec![IndexMember {
                name: "fmri.npy".into(),
                offset: 512,
                size: 1000,
                checksum: "f".repeat(16),
            }],
        }],
    };
    insta::assert_json_snapshot!(idx);
}

#[test]
fn report_and_subjects() {
    let r = ReportEntry {
        outcome: Outcome::Failed,
        unit: "u1".into(),
        path: "a/b.nii.gz".into(),
        reason: "truncated gzip stream".into(),
    };
    let s = SubjectRow {
        subject: "ab".into(),
        source: "hcp".into(),
        session: "1".into(),
        modalities: vec![Modality::Smri, Modality::Fmri],
        n_samples: 3,
        split: "train".into(),
    };
    insta::assert_json_snapshot!((r, s, COLUMNS));
}

#[test]
fn keys() {
    let k = key::make(&key::KeyParts {
        source: "ukb",
        subject: "0123abcd",
        session: Some("2"),
        run: Some("rest.1"),
        modality: Some(Modality::Fmri),
        index: Some(3),
    });
    insta::assert_snapshot!(k, @"ukb_0123abcd_2_rest-1_fmri_000003");
}
