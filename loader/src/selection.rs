//! Honest outcomes for selections: a loader whose filters leave nothing to read, or that asks
//! for a field no selected sample has, is refused when it is built, naming the filter and the
//! dataset, instead of yielding zero batches (or batches without the field) in silence.

use std::collections::BTreeSet;

use bomdata_shard::member;

use crate::{Dataset, Error, Mixture, Result};

/// Refuses a mixture with a dataset whose selection is empty: filtered to nothing
/// ([`Error::EmptySelection`] lists its filters), or a dataset directory without samples.
/// Plan-only datasets ([`Dataset::synthetic`]) with no filter pass (they exist to simulate
/// orders, an empty one included).
pub fn check_mixture(mix: &Mixture) -> Result<()> {
    for ds in mix.datasets() {
        check_dataset(ds)?;
    }
    Ok(())
}

/// [`check_mixture`] for one dataset.
pub fn check_dataset(ds: &Dataset) -> Result<()> {
    if !ds.is_empty() || (ds.filters().is_empty() && ds.manifest().is_none()) {
        return Ok(());
    }
    Err(Error::EmptySelection {
        dataset: ds.root().to_path_buf(),
        filters: ds.filters().to_vec(),
        total: ds.total_samples(),
    })
}

/// Refuses `fields` (logical member names, `x.npy`) when one of them is a member of no
/// selected sample of any dataset of `mix` ([`Error::NoSuchField`]). Plan-only datasets (no
/// manifest, no members) are not searched; a mixture of only those passes.
pub fn check_fields(mix: &Mixture, fields: &[String]) -> Result<()> {
    let real: Vec<&Dataset> = mix
        .datasets()
        .iter()
        .map(AsRef::as_ref)
        .filter(|d| d.manifest().is_some())
        .collect();
    if fields.is_empty() || real.is_empty() {
        return Ok(());
    }
    let mut missing: BTreeSet<&str> = fields.iter().map(String::as_str).collect();
    let mut present = BTreeSet::new();
    'all: for ds in &real {
        for info in ds.infos() {
            for m in &info.sample.members {
                let (logical, _) = member::logical_name(&m.name);
                if missing.remove(logical) && missing.is_empty() {
                    break 'all;
                }
                if !present.contains(logical) {
                    present.insert(logical.to_string());
                }
            }
        }
    }
    match missing.into_iter().next() {
        None => Ok(()),
        Some(field) => Err(Error::NoSuchField {
            field: field.to_string(),
            datasets: real.iter().map(|d| d.root().to_path_buf()).collect(),
            present: present.into_iter().collect(),
        }),
    }
}
