//! The shard writer: samples in, finished tar shards (with indexes) out.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::{IndexMember, IndexSample, ShardEntry, ShardIndex};
use xxhash_rust::xxh3::Xxh3;

use crate::dataset::{self, SHARDS};
use crate::tar;
use crate::{Error, Result, Sample};

/// How shard bytes are compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "level")]
pub enum Compression {
    /// Plain tar: readable by stock `webdataset` and mappable in place.
    #[default]
    None,
    /// Each member zstd-compressed on its own (name gets `.zst`); the tar stays seekable.
    Member(i32),
    /// The whole tar as one zstd stream (`.tar.zst`); index offsets refer to the inner tar.
    Shard(i32),
}

/// Options of a [`ShardWriter`].
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Start a new shard before one would pass this many bytes (a single larger sample still
    /// gets a shard of its own).
    pub max_bytes: u64,
    /// Start a new shard after this many samples.
    pub max_samples: u64,
    /// Compression of the shards.
    pub compression: Compression,
    /// Split recorded in each shard's manifest entry.
    pub split: Option<String>,
    /// fsync each shard before renaming it into place (on by default; off only for scratch data).
    pub durable: bool,
    /// Keep finished shards under their temporary names until [`ShardWriter::finish`] (for
    /// all-or-nothing units of work: [`ShardWriter::abort`] then leaves nothing behind); by
    /// default each shard is renamed as soon as it is full.
    pub defer_commit: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_bytes: 1 << 30,
            max_samples: 10_000,
            compression: Compression::None,
            split: None,
            durable: true,
            defer_commit: false,
        }
    }
}

/// Member data goes out in pieces of this size: each is hashed (member checksum, then the
/// shard checksum) and written while it is still in the L2 cache, so the data is read from
/// memory once, not once per hash and once more by the kernel's copy (`perf` on a 4 MB-sample
/// shard: the two hash passes were 5% of the writer's CPU, the page-cache copy 78%).
const PIECE: usize = 256 << 10;

/// Capacity of the buffer in front of the file: headers, padding and small members gather
/// there; pieces of [`PIECE`] bytes (larger than it) go straight to the file.
const BUFFER: usize = 128 << 10;

/// Counts and hashes the bytes that reach the file.
struct Hashing {
    out: BufWriter<File>,
    hasher: Xxh3,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

enum Out {
    Plain(Hashing),
    Zstd(zstd::stream::write::Encoder<'static, Hashing>),
}

struct Open {
    name: String,
    tmp: PathBuf,
    out: Out,
    /// Position in the (uncompressed) tar.
    pos: u64,
    index: ShardIndex,
}

struct Done {
    tmp: PathBuf,
    path: PathBuf,
    index_tmp: PathBuf,
    index_path: PathBuf,
}

/// Writes samples into `<dataset>/shards/<prefix>-<NNNNNN>.tar`, rolling over at the size and
/// count limits. Same samples in the same order give byte-identical shards and indexes.
///
/// ```
/// use bomdata_shard::{Sample, writer::{ShardWriter, WriterOptions}};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = ShardWriter::create(dir.path(), "demo", WriterOptions::default()).unwrap();
/// w.write(&Sample::new("a_1").with("x.txt", b"hi".to_vec())).unwrap();
/// let shards = w.finish().unwrap();
/// assert_eq!(shards[0].name, "demo-000000.tar");
/// assert_eq!(shards[0].samples, 1);
/// ```
pub struct ShardWriter {
    dir: PathBuf,
    prefix: String,
    opts: WriterOptions,
    open: Option<Open>,
    next: usize,
    entries: Vec<ShardEntry>,
    pending: Vec<Done>,
}

/// Checks a key: non-empty, no dots, slashes or control characters.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty key");
    }
    if key.contains('.') {
        return bad("keys may not contain '.' (WebDataset splits member names at the first dot)");
    }
    if key.contains('/') || key.chars().any(|c| c.is_control()) {
        return bad("keys may not contain '/' or control characters");
    }
    Ok(())
}

impl ShardWriter {
    /// A writer putting shards under `dataset_dir/shards/` named `<prefix>-<NNNNNN>.tar`.
    pub fn create(dataset_dir: &Path, prefix: &str, opts: WriterOptions) -> Result<Self> {
        let dir = dataset_dir.join(SHARDS);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(ShardWriter {
            dir,
            prefix: prefix.to_string(),
            opts,
            open: None,
            next: 0,
            entries: Vec::new(),
            pending: Vec::new(),
        })
    }

    fn member_bytes(&self, sample: &Sample) -> u64 {
        sample
            .members
            .iter()
            .map(|m| {
                let name_len = sample.key.len() + 1 + m.name.len();
                let hdr = if name_len > 100 {
                    3 * tar::BLOCK
                } else {
                    tar::BLOCK
                };
                hdr + m.data.len() as u64 + tar::padding(m.data.len() as u64)
            })
            .sum()
    }

    /// Appends one sample.
    pub fn write(&mut self, sample: &Sample) -> Result<()> {
        validate_key(&sample.key)?;
        for m in &sample.members {
            if m.name.is_empty() || !m.name.contains('.') || m.name.contains('/') {
                return Err(Error::InvalidName {
                    name: m.name.clone(),
                    reason: "member names are <field>.<ext> without '/'",
                });
            }
        }
        let est = self.member_bytes(sample);
        if let Some(o) = &self.open {
            let n = o.index.samples.len() as u64;
            if n >= self.opts.max_samples || (n > 0 && o.pos + est + 1024 > self.opts.max_bytes) {
                self.close()?;
            }
        }
        if self.open.is_none() {
            self.start()?;
        }
        let level = match self.opts.compression {
            Compression::Member(l) => Some(l),
            _ => None,
        };
        let Some(o) = self.open.as_mut() else {
            return Err(Error::NoOpenShard);
        };
        let offset = o.pos;
        let mut members = Vec::with_capacity(sample.members.len());
        for m in &sample.members {
            let (name, data): (String, std::borrow::Cow<'_, [u8]>) = match level {
                Some(l) => (
                    format!("{}.zst", m.name),
                    zstd::bulk::compress(&m.data, l)
                        .map_err(|source| Error::Compress { level: l, source })?
                        .into(),
                ),
                None => (m.name.clone(), (&m.data[..]).into()),
            };
            let full = format!("{}.{}", sample.key, name);
            let hdr = tar::header(&full, data.len() as u64);
            o.emit(&hdr)?;
            let data_offset = o.pos;
            let mut member_hash = Xxh3::new();
            for piece in data.chunks(PIECE) {
                member_hash.update(piece);
                o.emit(piece)?;
            }
            let pad = tar::padding(data.len() as u64) as usize;
            o.emit(&[0u8; 512][..pad])?;
            members.push(IndexMember {
                name,
                offset: data_offset,
                size: data.len() as u64,
                // The same value as `dataset::checksum64(&data)` (XXH3-64 streamed).
                checksum: format!("{:016x}", member_hash.digest()),
            });
        }
        o.index.samples.push(IndexSample {
            key: sample.key.clone(),
            subject: sample.subject.clone(),
            offset,
            size: o.pos - offset,
            members,
        });
        Ok(())
    }

    fn start(&mut self) -> Result<()> {
        let ext = match self.opts.compression {
            Compression::Shard(_) => "tar.zst",
            _ => "tar",
        };
        let name = format!("{}-{:06}.{}", self.prefix, self.next, ext);
        self.next += 1;
        let path = self.dir.join(&name);
        let tmp = dataset::temp_path(&path);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let hashing = Hashing {
            out: BufWriter::with_capacity(BUFFER, file),
            hasher: Xxh3::new(),
        };
        let out = match self.opts.compression {
            Compression::Shard(l) => Out::Zstd(
                zstd::stream::write::Encoder::new(hashing, l)
                    .map_err(|source| Error::Compress { level: l, source })?,
            ),
            _ => Out::Plain(hashing),
        };
        self.open = Some(Open {
            index: ShardIndex {
                shard: name.clone(),
                samples: Vec::new(),
            },
            name,
            tmp,
            out,
            pos: 0,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let Some(mut o) = self.open.take() else {
            return Ok(());
        };
        o.emit(&tar::END)?;
        let hashing = match o.out {
            Out::Plain(h) => h,
            Out::Zstd(enc) => enc.finish().map_err(|e| Error::io(&o.tmp, e))?,
        };
        let checksum = format!("{:032x}", hashing.hasher.digest128());
        let file = hashing
            .out
            .into_inner()
            .map_err(|e| Error::io(&o.tmp, e.into_error()))?;
        if self.opts.durable {
            file.sync_all().map_err(|e| Error::io(&o.tmp, e))?;
        }
        let size = file.metadata().map_err(|e| Error::io(&o.tmp, e))?.len();
        drop(file);
        let index_name = format!("{}.idx.json", o.name);
        let index_path = self.dir.join(&index_name);
        let index_tmp = dataset::temp_path(&index_path);
        let mut data = serde_json::to_vec(&o.index).map_err(Error::json("a shard index"))?;
        data.push(b'\n');
        {
            let mut f = File::create(&index_tmp).map_err(|e| Error::io(&index_tmp, e))?;
            f.write_all(&data).map_err(|e| Error::io(&index_tmp, e))?;
            if self.opts.durable {
                f.sync_all().map_err(|e| Error::io(&index_tmp, e))?;
            }
        }
        self.entries.push(ShardEntry {
            name: o.name.clone(),
            index: index_name,
            size,
            samples: o.index.samples.len() as u64,
            checksum,
            split: self.opts.split.clone(),
            compression: matches!(self.opts.compression, Compression::Shard(_))
                .then(|| "zstd".to_string()),
            index_checksum: Some(dataset::checksum128(&data)),
        });
        let done = Done {
            path: self.dir.join(&o.name),
            tmp: o.tmp,
            index_tmp,
            index_path,
        };
        if self.opts.defer_commit {
            self.pending.push(done);
            Ok(())
        } else {
            self.publish(vec![done])
        }
    }

    fn publish(&self, done: Vec<Done>) -> Result<()> {
        for d in &done {
            fs::rename(&d.index_tmp, &d.index_path).map_err(|e| Error::io(&d.index_path, e))?;
            fs::rename(&d.tmp, &d.path).map_err(|e| Error::io(&d.path, e))?;
        }
        if self.opts.durable && !done.is_empty() {
            dataset::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Closes the last shard, renames every pending shard into place and returns every shard
    /// written, in order.
    pub fn finish(mut self) -> Result<Vec<ShardEntry>> {
        self.close()?;
        if !self.opts.defer_commit {
            return Ok(self.entries);
        }
        let entries = std::mem::take(&mut self.entries);
        let pending = std::mem::take(&mut self.pending);
        self.publish(pending)?;
        Ok(entries)
    }

    /// Drops everything written (temporary files are removed); nothing becomes visible.
    pub fn abort(mut self) {
        if let Some(o) = self.open.take() {
            let _ = fs::remove_file(&o.tmp);
        }
        for d in self.pending.drain(..) {
            let _ = fs::remove_file(&d.tmp);
            let _ = fs::remove_file(&d.index_tmp);
        }
    }
}

impl Open {
    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        self.pos += bytes.len() as u64;
        let r = match &mut self.out {
            Out::Plain(h) => h.write_all(bytes),
            Out::Zstd(enc) => enc.write_all(bytes),
        };
        r.map_err(|e| Error::io(&self.tmp, e))
    }
}
