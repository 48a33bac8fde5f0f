//! The table-row samples on their way to the row shards: written to a spill file per split as
//! the rows stream in (`tables/.spill-<split>.<pid>-<n>.tmp` in the output, removed after), then
//! read back one at a time in their shard order (sorted by key, shuffled by the seed).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::ShardEntry;
use bomdata_shard::writer::{ShardWriter, WriterOptions};
use bomdata_shard::{Member, Sample, dataset};

use crate::build::{BuildOptions, SPLITS, shuffle};
use crate::{Error, Result};

/// One split's spill file: the samples, and (key, offset) of each.
struct SplitSpill {
    path: PathBuf,
    file: BufWriter<File>,
    at: u64,
    index: Vec<(String, u64)>,
}

/// The spill files of every split.
pub(super) struct Spill {
    dir: PathBuf,
    splits: [Option<SplitSpill>; 3],
}

fn put(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<u64> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)?;
    Ok(8 + bytes.len() as u64)
}

fn get(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut n = [0u8; 8];
    r.read_exact(&mut n)?;
    let mut v = Vec::new();
    // The length is our own (written above), read back from our own file.
    r.take(u64::from_le_bytes(n)).read_to_end(&mut v)?;
    Ok(v)
}

fn text(v: Vec<u8>, path: &Path) -> Result<String> {
    String::from_utf8(v).map_err(|_| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, "spill file"),
        )
    })
}

/// Reads the sample written at `at`.
fn read_sample(r: &mut BufReader<File>, at: u64, path: &Path) -> Result<Sample> {
    let io = |e| Error::io(path, e);
    r.seek(SeekFrom::Start(at)).map_err(io)?;
    let key = text(get(r).map_err(io)?, path)?;
    let subject = get(r).map_err(io)?;
    let mut s = Sample::new(key);
    if !subject.is_empty() {
        s = s.with_subject(text(subject[1..].to_vec(), path)?);
    }
    let mut n = [0u8; 8];
    r.read_exact(&mut n).map_err(io)?;
    for _ in 0..u64::from_le_bytes(n) {
        let name = text(get(r).map_err(io)?, path)?;
        let data = get(r).map_err(io)?;
        s.members.push(Member { name, data });
    }
    Ok(s)
}

impl Spill {
    pub(super) fn new(out: &Path) -> Result<Self> {
        let dir = out.join("tables");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Spill {
            dir,
            splits: [None, None, None],
        })
    }

    /// Appends a sample to the spill file of `split`.
    pub(super) fn push(&mut self, split: &str, s: &Sample) -> Result<()> {
        let i = SPLITS.iter().position(|x| *x == split).unwrap_or(2);
        if self.splits[i].is_none() {
            let path = dataset::temp_path(&self.dir.join(format!(".spill-{split}")));
            let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.splits[i] = Some(SplitSpill {
                path,
                file: BufWriter::new(f),
                at: 0,
                index: Vec::new(),
            });
        }
        let Some(sp) = self.splits[i].as_mut() else {
            return Ok(());
        };
        let io = |e| Error::io(&sp.path, e);
        let start = sp.at;
        let mut subject = Vec::new();
        if let Some(v) = &s.subject {
            subject.push(1);
            subject.extend_from_slice(v.as_bytes());
        }
        let mut n = put(&mut sp.file, s.key.as_bytes()).map_err(io)?;
        n += put(&mut sp.file, &subject).map_err(io)?;
        let count = s.members.len() as u64;
        sp.file.write_all(&count.to_le_bytes()).map_err(io)?;
        n += 8;
        for m in &s.members {
            n += put(&mut sp.file, m.name.as_bytes()).map_err(io)?;
            n += put(&mut sp.file, &m.data).map_err(io)?;
        }
        sp.at += n;
        sp.index.push((s.key.clone(), start));
        Ok(())
    }

    /// Writes the row shards, split by split, samples sorted by key then shuffled by the seed,
    /// and removes the spill files.
    pub(super) fn write_shards(
        self,
        out: &Path,
        opts: &BuildOptions,
    ) -> Result<(Vec<ShardEntry>, u64)> {
        let mut shards = Vec::new();
        let mut n = 0;
        for (split, sp) in SPLITS.iter().zip(self.splits) {
            let Some(mut sp) = sp else { continue };
            sp.file.flush().map_err(|e| Error::io(&sp.path, e))?;
            drop(sp.file);
            sp.index.sort_by(|a, b| a.0.cmp(&b.0));
            let tag = format!("tables-{split}");
            shuffle(
                &mut sp.index,
                opts.seed ^ xxhash_rust::xxh3::xxh3_64(tag.as_bytes()),
            );
            let f = File::open(&sp.path).map_err(|e| Error::io(&sp.path, e))?;
            let mut r = BufReader::new(f);
            let mut w = ShardWriter::create(
                out,
                &format!("{}-tables-{split}", opts.name),
                WriterOptions {
                    split: Some((*split).to_string()),
                    ..opts.writer.clone()
                },
            )?;
            for (_, at) in &sp.index {
                w.write(&read_sample(&mut r, *at, &sp.path)?)?;
                n += 1;
            }
            shards.extend(w.finish()?);
            std::fs::remove_file(&sp.path).map_err(|e| Error::io(&sp.path, e))?;
        }
        Ok((shards, n))
    }
}
