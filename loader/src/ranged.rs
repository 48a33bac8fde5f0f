//! Samples read by byte range instead of from a mapped shard file: the hook a dataset in an
//! object store uses to serve only the samples a rank reads (see `remote::open_ranged`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bomdata_schemas::manifest::{IndexSample, ShardEntry};

use crate::Result;
use crate::dataset::{SampleLoc, ShardFile};

/// Bytes of a shard from byte `start` on (a fetched range covering one or more samples).
#[derive(Clone)]
pub struct SampleBytes {
    start: u64,
    data: Arc<dyn AsRef<[u8]> + Send + Sync>,
}

impl std::fmt::Debug for SampleBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleBytes")
            .field("start", &self.start)
            .field("len", &self.len())
            .finish()
    }
}

impl SampleBytes {
    /// `data` holds the shard's bytes from `start` on.
    pub fn new(start: u64, data: Arc<dyn AsRef<[u8]> + Send + Sync>) -> SampleBytes {
        SampleBytes { start, data }
    }

    /// The shard offset of the first byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        (*self.data).as_ref().len()
    }

    /// True when no byte is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `size` bytes at shard offset `offset`, when held.
    pub fn get(&self, offset: u64, size: u64) -> Option<&[u8]> {
        let a = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        let b = a.checked_add(usize::try_from(size).ok()?)?;
        (*self.data).as_ref().get(a..b)
    }
}

/// Where the bytes of samples come from when the shard files are not local: called by the
/// reader threads once per sample read (and by member reads outside an epoch, e.g. metadata
/// filters). An object-store implementation fetches byte ranges (see `remote::open_ranged`).
pub trait RangeSource: Send + Sync + std::fmt::Debug {
    /// Bytes covering the sample at `loc` (`sample.offset .. sample.offset + sample.size` of the
    /// shard `entry`): from a read-ahead when it has them, else fetched now.
    fn sample(
        &self,
        loc: SampleLoc,
        entry: &ShardEntry,
        sample: &IndexSample,
    ) -> Result<SampleBytes>;

    /// Bytes `start .. end` of the shard `entry`, fetched now (not part of a read-ahead).
    fn range(&self, entry: &ShardEntry, start: u64, end: u64) -> Result<SampleBytes>;
}

/// Where one sample's member bytes are read from: the mapped shard file, or a fetched range.
#[derive(Debug)]
pub enum SampleData<'a> {
    /// The whole shard, mapped.
    Mapped(&'a Arc<ShardFile>),
    /// A fetched byte range covering the sample; `path` names the shard in errors.
    Ranged {
        /// The bytes.
        bytes: SampleBytes,
        /// The shard's path in the dataset folder (not read).
        path: PathBuf,
    },
}

impl SampleData<'_> {
    /// The `size` bytes at shard offset `offset` (`None`: outside the file or the range).
    pub fn get(&self, offset: u64, size: u64) -> Option<&[u8]> {
        match self {
            SampleData::Mapped(f) => {
                let a = usize::try_from(offset).ok()?;
                let b = a.checked_add(usize::try_from(size).ok()?)?;
                f.bytes().get(a..b)
            }
            SampleData::Ranged { bytes, .. } => bytes.get(offset, size),
        }
    }

    /// The shard's path (for errors).
    pub fn path(&self) -> &Path {
        match self {
            SampleData::Mapped(f) => f.path(),
            SampleData::Ranged { path, .. } => path,
        }
    }

    /// The open shard file, for positioned reads (`None` for a fetched range).
    pub fn file(&self) -> Option<&File> {
        match self {
            SampleData::Mapped(f) => Some(f.file()),
            SampleData::Ranged { .. } => None,
        }
    }
}
