//! A read-only view of one bomdata dataset directory: manifest, shard indexes, memory-mapped
//! shards, and the filtered list of samples a job will read.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bomdata_schemas::Modality;
use bomdata_schemas::manifest::{IndexSample, Manifest, ShardEntry, ShardIndex};
use bomdata_shard::{DatasetDir, member};
use memmap2::Mmap;

use crate::ranged::{RangeSource, SampleData};
use crate::{Error, Result};

/// Where a selected sample lives: shard number (manifest order) and sample number in its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SampleLoc {
    /// Shard position in the manifest.
    pub shard: u32,
    /// Sample position in the shard index.
    pub sample: u32,
}

/// An opened shard file.
#[derive(Debug)]
pub struct ShardFile {
    path: PathBuf,
    file: File,
    map: Mmap,
}

impl ShardFile {
    /// The mapped bytes of the whole tar.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file (for positioned reads).
    pub fn file(&self) -> &File {
        &self.file
    }
}

#[derive(Debug)]
struct Shard {
    entry: ShardEntry,
    index: ShardIndex,
    file: OnceLock<Arc<ShardFile>>,
}

/// One dataset directory, opened as a training source: its shards, indexes and the selection of
/// samples a job reads. (The on-disk layout it is read from is `bomdata_shard::DatasetDir`.)
///
/// Opening reads the manifest and every shard index (through `bomdata_shard::DatasetDir`); shard
/// tars are opened and memory-mapped lazily on first access. The *selection* starts as every sample of every shard
/// in manifest order and is narrowed with the `retain*` methods before planning an order.
#[derive(Debug)]
pub struct Dataset {
    root: PathBuf,
    manifest: Option<Manifest>,
    shards: Vec<Shard>,
    selected: Vec<SampleLoc>,
    source: Option<Arc<dyn ShardSource>>,
    /// The filters applied to the selection, in order (`split=train`, ...), for error messages.
    filters: Vec<String>,
    ranged: Option<Arc<dyn RangeSource>>,
}

/// Where a shard file missing from the dataset folder comes from (e.g. an object store, see
/// the `remote` module): called once per shard, on first access, before the file is mapped.
pub trait ShardSource: Send + Sync + std::fmt::Debug {
    /// Writes the shard `entry` to `dst` (whole, through a temporary name renamed into place).
    fn fetch(&self, entry: &ShardEntry, dst: &Path) -> Result<()>;
}

/// A sample as seen by filters and grouping functions: its shard entry, its index record, and
/// access to its members.
#[derive(Clone, Copy, Debug)]
pub struct SampleInfo<'a> {
    /// The dataset.
    pub dataset: &'a Dataset,
    /// Its location.
    pub loc: SampleLoc,
    /// The manifest entry of its shard.
    pub shard: &'a ShardEntry,
    /// Its index record.
    pub sample: &'a IndexSample,
}

impl<'a> SampleInfo<'a> {
    /// The sample key.
    pub fn key(&self) -> &'a str {
        &self.sample.key
    }

    /// The source: the key up to its first `_` (see `bomdata_schemas::key::make`).
    pub fn source(&self) -> &'a str {
        self.sample.key.split('_').next().unwrap_or("")
    }

    /// The modality named by a `_`-separated segment of the key, if any.
    pub fn modality(&self) -> Option<Modality> {
        self.sample
            .key
            .split('_')
            .skip(1)
            .find_map(|seg| seg.parse::<Modality>().ok())
    }

    /// The stored bytes of member `name` (`<field>.<ext>`, as in the index; decompressed when it
    /// ends in `.zst`). Opens and maps the shard if needed.
    pub fn member(&self, name: &str) -> Result<Cow<'a, [u8]>> {
        self.dataset.member_bytes(self.loc, name)
    }

    /// The `meta.json` member parsed as JSON (`Value::Null` when the sample has none).
    pub fn meta(&self) -> Result<serde_json::Value> {
        let Some(name) = self
            .sample
            .members
            .iter()
            .map(|m| m.name.as_str())
            .find(|n| *n == "meta.json" || *n == "meta.json.zst")
        else {
            return Ok(serde_json::Value::Null);
        };
        let bytes = self.member(name)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::corrupt(
                self.dataset.shard_path(self.loc.shard as usize),
                format!("sample {:?}: member {name}: {e}", self.sample.key),
            )
        })
    }
}

impl Dataset {
    /// Opens the dataset at `root` (a dataset directory as laid out by `bomdata-shard`).
    pub fn open(root: impl AsRef<Path>) -> Result<Dataset> {
        let dir = DatasetDir::new(root.as_ref());
        let manifest = dir.read_manifest()?;
        let mut shards = Vec::with_capacity(manifest.shards.len());
        for entry in &manifest.shards {
            if let Some(c) = &entry.compression {
                return Err(Error::corrupt(
                    dir.shard_path(entry),
                    format!(
                        "whole-shard compression {c:?} is not supported by the loader (needs random access); write member compression instead"
                    ),
                ));
            }
            let index = dir.read_index_checked(entry)?;
            shards.push(Shard {
                entry: entry.clone(),
                index,
                file: OnceLock::new(),
            });
        }
        let mut ds = Dataset {
            root: dir.root().to_path_buf(),
            manifest: Some(manifest),
            shards,
            selected: Vec::new(),
            source: None,
            filters: Vec::new(),
            ranged: None,
        };
        ds.select_all();
        Ok(ds)
    }

    /// A dataset without files, with shards of the given sample counts and `sample_bytes` bytes
    /// per sample: for planning and simulation (orders, partitions, resume). Reading any member
    /// fails.
    pub fn synthetic(shard_samples: &[usize], sample_bytes: u64) -> Dataset {
        let mut shards = Vec::with_capacity(shard_samples.len());
        for (si, &n) in shard_samples.iter().enumerate() {
            let name = format!("synthetic-{si:06}.tar");
            let samples = (0..n)
                .map(|i| IndexSample {
                    key: format!("syn_s{si}_{i:06}"),
                    subject: None,
                    offset: i as u64 * sample_bytes,
                    size: sample_bytes,
                    members: Vec::new(),
                })
                .collect();
            shards.push(Shard {
                entry: ShardEntry {
                    name: name.clone(),
                    index: format!("synthetic-{si:06}.idx.json"),
                    size: n as u64 * sample_bytes,
                    samples: n as u64,
                    checksum: String::new(),
                    split: None,
                    compression: None,
                    index_checksum: None,
                },
                index: ShardIndex {
                    shard: name,
                    samples,
                },
                file: OnceLock::new(),
            });
        }
        let mut ds = Dataset {
            root: PathBuf::from("<synthetic>"),
            manifest: None,
            shards,
            selected: Vec::new(),
            source: None,
            filters: Vec::new(),
            ranged: None,
        };
        ds.select_all();
        ds
    }

    fn select_all(&mut self) {
        self.selected = self
            .shards
            .iter()
            .enumerate()
            .flat_map(|(si, s)| {
                (0..s.index.samples.len()).map(move |i| SampleLoc {
                    shard: si as u32,
                    sample: i as u32,
                })
            })
            .collect();
    }

    /// The dataset directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The manifest (`None` for [`Dataset::synthetic`]).
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Number of shards in the manifest.
    pub fn num_shards(&self) -> usize {
        self.shards.len()
    }

    /// Number of selected samples.
    pub fn len(&self) -> usize {
        self.selected.len()
    }

    /// True when no sample is selected.
    pub fn is_empty(&self) -> bool {
        self.selected.is_empty()
    }

    /// The selected samples, in shard then index order.
    pub fn selection(&self) -> &[SampleLoc] {
        &self.selected
    }

    /// Information about the `i`-th selected sample.
    pub fn info(&self, i: usize) -> Option<SampleInfo<'_>> {
        self.selected.get(i).map(|&loc| self.info_at(loc))
    }

    /// Information about the sample at `loc` (must come from [`Dataset::selection`]).
    pub fn info_at(&self, loc: SampleLoc) -> SampleInfo<'_> {
        let shard = &self.shards[loc.shard as usize];
        SampleInfo {
            dataset: self,
            loc,
            shard: &shard.entry,
            sample: &shard.index.samples[loc.sample as usize],
        }
    }

    /// Iterates over the selected samples.
    pub fn infos(&self) -> impl Iterator<Item = SampleInfo<'_>> + '_ {
        self.selected.iter().map(|&loc| self.info_at(loc))
    }

    /// Keeps the selected samples for which `pred` is true.
    pub fn retain(&mut self, pred: impl FnMut(&SampleInfo<'_>) -> bool) -> &mut Self {
        self.retain_as("a custom filter", pred)
    }

    /// As [`Dataset::retain`], naming the filter (`"sources=a,b"`): the name is what
    /// [`Dataset::filters`] lists and an empty selection's error shows.
    pub fn retain_as(
        &mut self,
        what: impl Into<String>,
        mut pred: impl FnMut(&SampleInfo<'_>) -> bool,
    ) -> &mut Self {
        let keep: Vec<SampleLoc> = self
            .selected
            .iter()
            .copied()
            .filter(|&loc| pred(&self.info_at(loc)))
            .collect();
        self.selected = keep;
        self.filters.push(what.into());
        self
    }

    /// Keeps the selected samples for which `pred` returns `Ok(true)`; the first error aborts.
    pub fn try_retain(
        &mut self,
        pred: impl FnMut(&SampleInfo<'_>) -> Result<bool>,
    ) -> Result<&mut Self> {
        self.try_retain_as("a custom filter", pred)
    }

    /// As [`Dataset::try_retain`], naming the filter (see [`Dataset::retain_as`]).
    pub fn try_retain_as(
        &mut self,
        what: impl Into<String>,
        mut pred: impl FnMut(&SampleInfo<'_>) -> Result<bool>,
    ) -> Result<&mut Self> {
        let mut keep = Vec::with_capacity(self.selected.len());
        for &loc in &self.selected {
            if pred(&self.info_at(loc))? {
                keep.push(loc);
            }
        }
        self.selected = keep;
        self.filters.push(what.into());
        Ok(self)
    }

    /// The filters applied to the selection so far, in order (`split=train`,
    /// `modalities=eeg`, `a custom filter`, ...).
    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// Samples in the dataset's shards, before any filter.
    pub fn total_samples(&self) -> usize {
        self.shards.iter().map(|s| s.index.samples.len()).sum()
    }

    /// Keeps samples of shards whose manifest `split` equals `split`.
    pub fn retain_split(&mut self, split: &str) -> &mut Self {
        self.retain_as(format!("split={split}"), |s| {
            s.shard.split.as_deref() == Some(split)
        })
    }

    /// Keeps samples whose key's source (first segment) is `source`.
    pub fn retain_source(&mut self, source: &str) -> &mut Self {
        self.retain_as(format!("source={source}"), |s| s.source() == source)
    }

    /// Keeps samples whose key names one of `modalities`.
    pub fn retain_modalities(&mut self, modalities: &[Modality]) -> &mut Self {
        let names: Vec<&str> = modalities.iter().map(|m| m.as_str()).collect();
        self.retain_as(format!("modalities={}", names.join(",")), |s| {
            s.modality().is_some_and(|m| modalities.contains(&m))
        })
    }

    /// Keeps samples whose `meta.json` satisfies `pred` (reads every selected sample's metadata:
    /// QC flags, site, ...). Samples without `meta.json` see `Value::Null`.
    pub fn retain_meta(
        &mut self,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
    ) -> Result<&mut Self> {
        self.try_retain_as("a meta.json filter", |s| Ok(pred(&s.meta()?)))
    }

    pub(crate) fn shard_path(&self, shard: usize) -> PathBuf {
        let dir = DatasetDir::new(&self.root);
        match self.shards.get(shard) {
            Some(s) => dir.shard_path(&s.entry),
            None => dir.shards_dir(),
        }
    }

    /// Fetches shard files missing from the dataset folder from `source` on first access (the
    /// indexes and manifest must be local already).
    pub fn set_shard_source(&mut self, source: Arc<dyn ShardSource>) -> &mut Self {
        self.source = Some(source);
        self
    }

    /// Reads sample bytes from `source` by byte range instead of from shard files (the shard
    /// files are then only opened by callers of [`Dataset::shard_file`]).
    pub fn set_range_source(&mut self, source: Arc<dyn RangeSource>) -> &mut Self {
        self.ranged = Some(source);
        self
    }

    /// The range source, when samples are read by byte range.
    pub fn range_source(&self) -> Option<&Arc<dyn RangeSource>> {
        self.ranged.as_ref()
    }

    /// Where the member bytes of the sample at `loc` are read from: a byte range of the range
    /// source when there is one, else the mapped shard.
    pub fn sample_data(&self, loc: SampleLoc) -> Result<SampleData<'_>> {
        match &self.ranged {
            Some(r) => {
                let s = &self.shards[loc.shard as usize];
                let sample = &s.index.samples[loc.sample as usize];
                Ok(SampleData::Ranged {
                    bytes: r.sample(loc, &s.entry, sample)?,
                    path: self.shard_path(loc.shard as usize),
                })
            }
            None => Ok(SampleData::Mapped(self.shard_file(loc.shard as usize)?)),
        }
    }

    /// The manifest entry of shard `shard` (manifest position).
    pub fn shard_entry(&self, shard: usize) -> Option<&ShardEntry> {
        self.shards.get(shard).map(|s| &s.entry)
    }

    /// The opened, mapped shard `shard` (manifest position).
    pub fn shard_file(&self, shard: usize) -> Result<&Arc<ShardFile>> {
        let s = self
            .shards
            .get(shard)
            .ok_or_else(|| Error::config(format!("no shard {shard}")))?;
        if let Some(f) = s.file.get() {
            return Ok(f);
        }
        let path = self.shard_path(shard);
        if self.manifest.is_none() {
            return Err(Error::config(
                "a synthetic dataset has no shard files to read",
            ));
        }
        if let Some(src) = &self.source
            && !path.is_file()
        {
            src.fetch(&s.entry, &path)?;
        }
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len != s.entry.size {
            return Err(Error::corrupt(
                &path,
                format!("file has {len} bytes, manifest says {}", s.entry.size),
            ));
        }
        // SAFETY: shards are immutable once listed in the manifest (written under a temporary
        // name and renamed); the map is read-only. Truncating a shard under a running job is
        // outside the contract, as for every mmap-based reader.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        let _ = s.file.set(Arc::new(ShardFile { path, file, map }));
        s.file
            .get()
            .ok_or_else(|| Error::config("shard map vanished"))
    }

    /// The index records of shard `shard`'s samples (empty for no such shard).
    pub fn shard_samples(&self, shard: usize) -> &[IndexSample] {
        self.shards.get(shard).map_or(&[], |s| &s.index.samples)
    }

    /// The index record of the sample at `loc`.
    pub fn index_sample(&self, loc: SampleLoc) -> &IndexSample {
        &self.shards[loc.shard as usize].index.samples[loc.sample as usize]
    }

    /// The stored bytes of member `name` of the sample at `loc`: a zero-copy slice of the mapped
    /// shard, or the decompressed bytes when the name ends in `.zst`.
    pub fn member_bytes(&self, loc: SampleLoc, name: &str) -> Result<Cow<'_, [u8]>> {
        let s = self.index_sample(loc);
        let m = s.members.iter().find(|m| m.name == name).ok_or_else(|| {
            Error::corrupt(
                self.shard_path(loc.shard as usize),
                format!("sample {:?} has no member {name}", s.key),
            )
        })?;
        if let Some(r) = &self.ranged {
            let entry = &self.shards[loc.shard as usize].entry;
            let path = self.shard_path(loc.shard as usize);
            let got = r.range(entry, m.offset, m.offset.saturating_add(m.size))?;
            let raw = got.get(m.offset, m.size).ok_or_else(|| {
                Error::corrupt(&path, format!("sample {:?}: short range read", s.key))
            })?;
            return member::decode(name, raw)
                .map(|c| Cow::Owned(c.into_owned()))
                .map_err(|e| {
                    Error::corrupt(&path, format!("sample {:?} {name}: zstd: {e}", s.key))
                });
        }
        let f = self.shard_file(loc.shard as usize)?;
        let raw = &f.bytes()[m.offset as usize..(m.offset + m.size) as usize];
        member::decode(name, raw).map_err(|e| {
            Error::corrupt(
                f.path(),
                format!(
                    "sample {:?} member {name} at byte {}: zstd: {e}",
                    s.key, m.offset
                ),
            )
        })
    }

    /// A zero-copy view of the `.npy` member `name` of the sample at `loc` (uncompressed members
    /// only: the array data is a slice of the mapped shard).
    pub fn npy(&self, loc: SampleLoc, name: &str) -> Result<bomdata_shard::npy::NpyView<'_>> {
        if member::logical_name(name).1 {
            return Err(Error::config(format!(
                "member {name} is compressed: use member_bytes and decode the copy"
            )));
        }
        let bytes = match self.member_bytes(loc, name)? {
            Cow::Borrowed(b) => b,
            Cow::Owned(_) => return Err(Error::config("unexpected owned member")),
        };
        bomdata_shard::npy::decode(bytes).map_err(|e| {
            Error::corrupt(
                self.shard_path(loc.shard as usize),
                format!("sample {:?} member {name}: {e}", self.index_sample(loc).key),
            )
        })
    }
}
