//! Reading samples back from shards through their indexes.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::{IndexSample, ShardEntry, ShardIndex};

use crate::dataset::{self, SHARDS};
use crate::{Error, Result, Sample};

/// Reads the samples of one shard in index order, streaming (plain or whole-shard zstd).
pub struct ShardReader {
    path: PathBuf,
    index: ShardIndex,
    inner: Box<dyn Read + Send>,
    pos: u64,
    next: usize,
    decode_members: bool,
}

impl ShardReader {
    /// Opens a shard of a dataset directory.
    pub fn open(dataset_dir: &Path, entry: &ShardEntry) -> Result<Self> {
        let index = dataset::read_index(dataset_dir, entry)?;
        let path = dataset_dir.join(SHARDS).join(&entry.name);
        let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let inner: Box<dyn Read + Send> = if entry.compression.as_deref() == Some("zstd") {
            Box::new(zstd::stream::read::Decoder::new(f).map_err(|e| Error::io(&path, e))?)
        } else {
            Box::new(BufReader::with_capacity(1 << 20, f))
        };
        Ok(ShardReader {
            path,
            index,
            inner,
            pos: 0,
            next: 0,
            decode_members: true,
        })
    }

    /// Keep `.zst` members compressed (by default they are decoded and the suffix dropped).
    pub fn with_raw_members(mut self) -> Self {
        self.decode_members = false;
        self
    }

    /// The shard's index.
    pub fn index(&self) -> &ShardIndex {
        &self.index
    }

    /// Reads the next sample, `None` at the end.
    pub fn read_next(&mut self) -> Result<Option<Sample>> {
        let Some(s) = self.index.samples.get(self.next).cloned() else {
            return Ok(None);
        };
        self.next += 1;
        if s.offset < self.pos {
            return Err(Error::corrupt(
                &self.path,
                "index offsets are not increasing",
            ));
        }
        let skip = s.offset - self.pos;
        self.skip(skip)?;
        self.pos = s.offset;
        if let Some(sample) = self.read_members(&s)? {
            return Ok(Some(sample));
        }
        let mut buf = crate::buffers::take(s.size as usize);
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.pos = s.offset + s.size;
        let sample = sample_from_bytes(&self.path, &s, &buf, self.decode_members);
        crate::buffers::give(buf);
        sample.map(Some)
    }
}

impl ShardReader {
    /// Discards `n` bytes of the stream.
    fn skip(&mut self, n: u64) -> Result<()> {
        let got = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| Error::io(&self.path, e))?;
        if got < n {
            return Err(Error::corrupt(&self.path, "shard shorter than its index"));
        }
        Ok(())
    }

    /// Reads the sample at the current position (its start) member by member, each straight into
    /// its own buffer: no copy of the whole sample, whose members are then copied out again (a
    /// 4-D fMRI run is hundreds of MB). `None` (nothing read) when a member is to be decoded
    /// (`.zst`) or the members are not in increasing order; the caller then reads the whole
    /// sample.
    fn read_members(&mut self, s: &IndexSample) -> Result<Option<Sample>> {
        let mut at = s.offset;
        for m in &s.members {
            let (_, zst) = crate::member::logical_name(&m.name);
            if (zst && self.decode_members) || m.offset < at {
                return Ok(None);
            }
            at = m.offset.saturating_add(m.size);
        }
        if at > s.offset.saturating_add(s.size) {
            return Err(Error::corrupt(
                &self.path,
                format!("member of {} past its sample", s.key),
            ));
        }
        let mut sample = Sample::new(s.key.clone());
        sample.subject = s.subject.clone();
        for m in &s.members {
            self.skip(m.offset - self.pos)?;
            let mut own = crate::buffers::take(m.size as usize);
            self.inner
                .read_exact(&mut own)
                .map_err(|e| Error::io(&self.path, e))?;
            self.pos = m.offset + m.size;
            sample.push(m.name.clone(), own);
        }
        let end = s.offset + s.size;
        self.skip(end - self.pos)?;
        self.pos = end;
        Ok(Some(sample))
    }
}

/// Reads one sample of a plain (uncompressed) shard by seeking to its index entry.
pub fn read_sample_at(path: &Path, s: &IndexSample, decode_members: bool) -> Result<Sample> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    if let Some(sample) = read_members_at(&mut f, path, s, decode_members)? {
        return Ok(sample);
    }
    f.seek(SeekFrom::Start(s.offset))
        .map_err(|e| Error::io(path, e))?;
    let mut buf = crate::buffers::take(s.size as usize);
    f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
    let sample = sample_from_bytes(path, s, &buf, decode_members);
    crate::buffers::give(buf);
    sample
}

/// Reads each member of the sample at its index offset straight into its own buffer (no copy
/// of the whole sample, whose members would then be copied out again: for a 4-D fMRI run that
/// was a second buffer of hundreds of MB and a copy of it). `None` (nothing read) when a member
/// is to be decoded (`.zst`); the caller then reads the whole sample.
fn read_members_at(
    f: &mut File,
    path: &Path,
    s: &IndexSample,
    decode: bool,
) -> Result<Option<Sample>> {
    let end = s.offset.saturating_add(s.size);
    for m in &s.members {
        let (_, zst) = crate::member::logical_name(&m.name);
        if zst && decode {
            return Ok(None);
        }
        if m.offset < s.offset {
            return Err(Error::corrupt(
                path,
                format!("member {} before its sample", m.name),
            ));
        }
        if m.offset.saturating_add(m.size) > end {
            return Err(Error::corrupt(
                path,
                format!("member {}.{} past its sample", s.key, m.name),
            ));
        }
    }
    let mut sample = Sample::new(s.key.clone());
    sample.subject = s.subject.clone();
    for m in &s.members {
        f.seek(SeekFrom::Start(m.offset))
            .map_err(|e| Error::io(path, e))?;
        let mut own = crate::buffers::take(m.size as usize);
        f.read_exact(&mut own).map_err(|e| Error::io(path, e))?;
        sample.push(m.name.clone(), own);
    }
    Ok(Some(sample))
}

/// Builds a sample from the bytes of its index range (`entry.offset .. offset + size`),
/// decoding `.zst` members.
pub fn sample_from_slice(path: &Path, entry: &IndexSample, bytes: &[u8]) -> Result<Sample> {
    sample_from_bytes(path, entry, bytes, true)
}

fn sample_from_bytes(path: &Path, s: &IndexSample, buf: &[u8], decode: bool) -> Result<Sample> {
    let mut sample = Sample::new(s.key.clone());
    sample.subject = s.subject.clone();
    for m in &s.members {
        let start =
            m.offset.checked_sub(s.offset).ok_or_else(|| {
                Error::corrupt(path, format!("member {} before its sample", m.name))
            })? as usize;
        let end = start + m.size as usize;
        let data = buf.get(start..end).ok_or_else(|| {
            Error::corrupt(path, format!("member {}.{} past its sample", s.key, m.name))
        })?;
        match crate::member::logical_name(&m.name) {
            (plain, true) if decode => {
                let mut d = Vec::new();
                crate::member::decode_zstd(data, &mut d).map_err(|e| Error::io(path, e))?;
                sample.push(plain, d);
            }
            _ => {
                let mut own = crate::buffers::take(data.len());
                own.copy_from_slice(data);
                sample.push(m.name.clone(), own);
            }
        }
    }
    Ok(sample)
}

impl Iterator for ShardReader {
    type Item = Result<Sample>;
    fn next(&mut self) -> Option<Self::Item> {
        self.read_next().transpose()
    }
}
