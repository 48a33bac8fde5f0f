//! `ingest --out s3://…`: every unit committed to the store as soon as it is finished (see
//! [`bomdata_ingest::publish`]): its shards, indexes and table parts uploaded (multipart above
//! the part size), then its commit record `.ingest/units/u<h>.json` (file names, sizes and
//! checksums: no source path, no subject ID), then its staged files removed, so the local
//! staging folder holds only the units being converted. The manifest is uploaded at the end as
//! before (last), and the commit records are deleted once it is there.
//!
//! A rerun after a crash (even `kill -9`) skips every unit whose record is in the state folder
//! and whose commit record (or, once finished, the manifest) lists the same files with the same
//! checksums, each object there with the recorded size.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use bomdata_ingest::publish::{PublishError, UnitFiles, UnitPublisher};
use bomdata_schemas::manifest::Manifest;
use serde::{Deserialize, Serialize};

use super::Remote;
use super::s3::Store;

/// Folder of the commit records under the output prefix.
pub const UNITS: &str = ".ingest/units";

/// One file of a commit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CommittedFile {
    name: String,
    size: u64,
    checksum: String,
}

/// The commit record of a unit in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Committed {
    unit: String,
    files: Vec<CommittedFile>,
}

/// Uploads each finished unit of an ingest into `s3://…` (see the module docs).
pub struct UnitUploader {
    store: Store,
    url: String,
    /// The objects under the prefix when the run started: name → size.
    listing: BTreeMap<String, u64>,
    /// Checksums of the files the remote manifest lists (a finished dataset), by name.
    manifest: BTreeMap<String, String>,
    units: AtomicU64,
    objects: AtomicU64,
    bytes: AtomicU64,
    multipart: AtomicU64,
    skipped: AtomicU64,
}

impl UnitUploader {
    /// A publisher into `r` (lists the prefix once, and reads its manifest when there is one).
    pub fn open(r: &Remote) -> anyhow::Result<UnitUploader> {
        let store = Store::open(r)?;
        let listing = store.list()?;
        let mut manifest = BTreeMap::new();
        let name = bomdata_shard::dataset::MANIFEST;
        if listing.contains_key(name)
            && let Some(bytes) = store.get_bytes(name)?
        {
            let m: Manifest = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}/{name}: not a bomdata manifest", r.url))?;
            let shards = bomdata_shard::dataset::SHARDS;
            for s in &m.shards {
                manifest.insert(format!("{shards}/{}", s.name), s.checksum.clone());
                if let Some(c) = &s.index_checksum {
                    manifest.insert(format!("{shards}/{}", s.index), c.clone());
                }
            }
            for t in &m.tables {
                manifest.insert(t.name.clone(), t.checksum.clone());
            }
        }
        Ok(UnitUploader {
            store,
            url: r.url.clone(),
            listing,
            manifest,
            units: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            multipart: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        })
    }

    /// Prints what this run committed.
    pub fn report(&self) {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        eprintln!(
            "bomdata: {}: {} units committed during the run ({} objects uploaded, {:.1} MB, {} \
             multipart; {} already there)",
            self.url,
            n(&self.units),
            n(&self.objects),
            n(&self.bytes) as f64 / 1e6,
            n(&self.multipart),
            n(&self.skipped)
        );
    }

    fn record_name(unit: &str) -> String {
        format!("{UNITS}/{unit}.json")
    }

    fn publish_files(&self, out: &Path, unit: &UnitFiles) -> anyhow::Result<()> {
        let mut record = Committed {
            unit: unit.unit.clone(),
            files: Vec::with_capacity(unit.files.len()),
        };
        for f in &unit.files {
            let path = out.join(&f.name);
            let size = std::fs::metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .len();
            if self.listing.get(&f.name) == Some(&size) {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            } else {
                if self.store.put_file(&f.name, &path, size)? {
                    self.multipart.fetch_add(1, Ordering::Relaxed);
                }
                self.objects.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(size, Ordering::Relaxed);
            }
            record.files.push(CommittedFile {
                name: f.name.clone(),
                size,
                checksum: f.checksum.clone(),
            });
        }
        let body = serde_json::to_vec(&record)?;
        self.store.put_bytes(&Self::record_name(&unit.unit), body)?;
        self.units.fetch_add(1, Ordering::Relaxed);
        for f in &unit.files {
            let path = out.join(&f.name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
        Ok(())
    }
}

impl UnitPublisher for UnitUploader {
    fn publish(&self, out: &Path, unit: &UnitFiles) -> Result<(), PublishError> {
        self.publish_files(out, unit)
            .map_err(|e| format!("{e:#}").into())
    }

    fn published(&self, unit: &UnitFiles) -> bool {
        // A finished dataset: the manifest lists the files (the commit records are gone).
        let listed = |name: &str| self.listing.contains_key(name);
        if !self.manifest.is_empty()
            && unit
                .files
                .iter()
                .all(|f| self.manifest.get(&f.name) == Some(&f.checksum) && listed(&f.name))
        {
            return true;
        }
        let name = Self::record_name(&unit.unit);
        if !listed(&name) {
            return false;
        }
        let Ok(Some(bytes)) = self.store.get_bytes(&name) else {
            return false;
        };
        let Ok(rec) = serde_json::from_slice::<Committed>(&bytes) else {
            return false;
        };
        rec.unit == unit.unit
            && rec.files.len() == unit.files.len()
            && rec.files.iter().zip(&unit.files).all(|(c, f)| {
                c.name == f.name
                    && c.checksum == f.checksum
                    && self.listing.get(&c.name) == Some(&c.size)
            })
    }
}

/// Deletes the commit records under `r` (once its manifest is uploaded).
pub fn remove_records(r: &Remote) -> anyhow::Result<u64> {
    let store = Store::open(r)?;
    let mut n = 0;
    for rel in store.list()?.keys() {
        if rel.starts_with(&format!("{UNITS}/")) {
            store.delete(rel)?;
            n += 1;
        }
    }
    Ok(n)
}
