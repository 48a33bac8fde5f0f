//! Honest outcomes: a loader whose filters select nothing, or that asks for a field no sample
//! has, is refused when built, with an error naming the filter (or field) and the dataset.
#![allow(clippy::unwrap_used)]

mod common;

use common::write_dataset;
use std::sync::Arc;

use bomdata_loader::{
    Dataset, Error, Loader, LoaderOptions, Mixture, OrderOptions, Partition, Planner, Units,
};
use bomdata_shard::writer::Compression;

fn build(ds: Dataset, fields: Option<Vec<String>>) -> bomdata_loader::Result<Loader> {
    let p = Planner::new(Mixture::single(ds), OrderOptions::default(), Units::Samples)?;
    let opts = LoaderOptions {
        fields,
        ..LoaderOptions::default()
    };
    Loader::new(Arc::new(p), Partition::single(), opts)
}

#[test]
fn a_split_the_dataset_lacks_is_refused_naming_filter_and_dataset() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 12, "eeg", Compression::None);
    let mut ds = Dataset::open(dir.path()).unwrap();
    ds.retain_split("holdout");
    let err = build(ds, None).unwrap_err();
    assert!(
        matches!(err, Error::EmptySelection { total: 12, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("split=holdout"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
}

#[test]
fn filters_that_empty_the_selection_together_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 12, "eeg", Compression::None);
    let mut ds = Dataset::open(dir.path()).unwrap();
    ds.retain_split("train");
    assert!(!ds.is_empty());
    ds.retain_modalities(&[bomdata_schemas::Modality::Fmri]);
    let msg = build(ds, None).unwrap_err().to_string();
    assert!(msg.contains("split=train; modalities=fmri"), "{msg}");
}

#[test]
fn one_empty_dataset_of_a_mixture_is_refused() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_dataset(a.path(), 8, "eeg", Compression::None);
    write_dataset(b.path(), 8, "eeg", Compression::None);
    let da = Dataset::open(a.path()).unwrap();
    let mut db = Dataset::open(b.path()).unwrap();
    db.retain_source("elsewhere");
    let mix = Mixture::weighted(vec![(da, 1.0), (db, 1.0)]).unwrap();
    let p = Planner::new(mix, OrderOptions::default(), Units::Samples).unwrap();
    let err = Loader::new(Arc::new(p), Partition::single(), LoaderOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("source=elsewhere"), "{msg}");
    assert!(msg.contains(&b.path().display().to_string()), "{msg}");
}

#[test]
fn a_field_no_sample_has_is_refused_naming_field_and_dataset() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 12, "eeg", Compression::Member(1));
    let ds = Dataset::open(dir.path()).unwrap();
    let fields = vec!["x.npy".to_string(), "fmri.npy".to_string()];
    let err = build(ds, Some(fields)).unwrap_err();
    assert!(
        matches!(&err, Error::NoSuchField { field, .. } if field == "fmri.npy"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(
        msg.contains("x.npy"),
        "the members present are listed: {msg}"
    );
    // fields that exist (compressed members count by their logical name) pass
    let ds = Dataset::open(dir.path()).unwrap();
    build(ds, Some(vec!["x.npy".into(), "meta.json".into()])).unwrap();
}

#[test]
fn plan_only_datasets_stay_usable_when_empty() {
    let ds = Dataset::synthetic(&[0, 0], 10);
    let mut l = build(ds, None).unwrap();
    assert_eq!(l.epoch().count(), 0);
}
