//! CRAM through `noodles-cram`, with the reference from a FASTA file (plain, gzip or BGZF,
//! read through [`IndexedFasta`]), and a reader over BAM or CRAM that yields decoded
//! alignment records ([`Alignment`]).
//!
//! The reference is found, in order: the path given by the caller (`bomdata probe
//! --reference`), else a FASTA next to the CRAM with the same stem (`x.cram` → `x.fa`,
//! `x.fasta`, `x.fna`, each also with `.gz`). Without one only CRAMs that embed their
//! reference (or need none) decode; the others fail with a clear error. Reference lengths are
//! compared with the CRAM header and noodles checks each slice's reference MD5, so a wrong
//! reference is an error, not silently wrong bases. A panic inside the decoder on a malformed
//! file is turned into an error.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use noodles_bam as bam;
use noodles_cram as cram;
use noodles_fasta as fasta;
use noodles_sam as sam;

use crate::bam::{BriefRecord, Summary};
use crate::error::{Error, invalid};
use crate::fasta::IndexedFasta;
use crate::fasta::indexed::IndexCheck;

/// A reference repository adapter over [`IndexedFasta`] (bases uppercased, as CRAM's MD5s
/// are computed over uppercase bases). It answers every name: a missing reference is an error
/// (noodles would panic on a plain "not found").
struct FastaAdapter(Option<Mutex<IndexedFasta>>);

impl fasta::repository::Adapter for FastaAdapter {
    fn get(&mut self, name: &[u8]) -> Option<io::Result<fasta::Record>> {
        let name = String::from_utf8_lossy(name).into_owned();
        let Some(fa) = &mut self.0 else {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "reference {name:?} needed but no reference fasta given (--reference, or x.fa next to x.cram)"
                ),
            )));
        };
        let fa = match fa.get_mut() {
            Ok(fa) => fa,
            Err(p) => p.into_inner(),
        };
        if fa.length(&name).is_none() {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reference {name:?} is not in {}", fa.path().display()),
            )));
        }
        let mut seq = Vec::new();
        Some(fa.fetch_all(&name, &mut seq).map(|()| {
            seq.make_ascii_uppercase();
            fasta::Record::new(
                fasta::record::Definition::new(name, None),
                fasta::record::Sequence::from(seq),
            )
        }))
    }
}

/// The FASTA next to `cram` with the same stem, if any.
pub fn adjacent_reference(cram: &Path) -> Option<PathBuf> {
    let stem = cram.file_stem()?;
    let dir = cram.parent().unwrap_or(Path::new(""));
    for ext in ["fa", "fasta", "fna", "fa.gz", "fasta.gz", "fna.gz"] {
        let mut n = stem.to_os_string();
        n.push(".");
        n.push(ext);
        let p = dir.join(n);
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

/// A reference repository for `reference`; without one, every lookup is an error.
pub fn repository(reference: Option<&Path>) -> io::Result<fasta::Repository> {
    let fa = reference
        .map(|p| IndexedFasta::open_with(p, IndexCheck::Quick))
        .transpose()?;
    Ok(fasta::Repository::new(FastaAdapter(fa.map(Mutex::new))))
}

/// Checks that every header reference the FASTA holds has the header's length (a shorter
/// reference would make the decoder index past its end).
fn check_reference_lengths(header: &sam::Header, reference: &Path) -> io::Result<()> {
    let fa = IndexedFasta::open_with(reference, IndexCheck::Quick)?;
    for (name, rs) in header.reference_sequences() {
        let name = name.to_string();
        let want = rs.length().get() as u64;
        if let Some(got) = fa.length(&name)
            && got != want
        {
            return Err(invalid(
                Error::Cram,
                format!(
                    "reference {name:?} has {got} bases in {}, the cram header says {want}",
                    reference.display()
                ),
            ));
        }
    }
    Ok(())
}

/// One decoded alignment record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alignment {
    /// Read name.
    pub qname: Option<String>,
    /// SAM flag.
    pub flag: u16,
    /// Reference sequence index in the header (kept for unmapped reads placed by their mate).
    pub ref_id: Option<usize>,
    /// 0-based leftmost mapping position (None when absent).
    pub pos0: Option<u64>,
    /// Mapping quality (255 when missing).
    pub mapq: u8,
    /// CIGAR text (None when the read is unmapped or has no CIGAR).
    pub cigar: Option<String>,
    /// Bases as stored (SAM SEQ: on the forward reference strand).
    pub seq: Vec<u8>,
    /// Phred qualities (no +33 offset), None when the record has none.
    pub qual: Option<Vec<u8>>,
}

impl Alignment {
    /// Flag 0x4.
    pub fn is_unmapped(&self) -> bool {
        self.flag & 0x4 != 0
    }
    /// Flag 0x10.
    pub fn is_reverse(&self) -> bool {
        self.flag & 0x10 != 0
    }
    /// Flag 0x100.
    pub fn is_secondary(&self) -> bool {
        self.flag & 0x100 != 0
    }
    /// Flag 0x800.
    pub fn is_supplementary(&self) -> bool {
        self.flag & 0x800 != 0
    }
}

fn cigar_string(c: &dyn sam::alignment::record::Cigar) -> io::Result<Option<String>> {
    use sam::alignment::record::cigar::op::Kind;
    let mut s = String::new();
    for op in c.iter() {
        let op = op?;
        let ch = match op.kind() {
            Kind::Match => 'M',
            Kind::Insertion => 'I',
            Kind::Deletion => 'D',
            Kind::Skip => 'N',
            Kind::SoftClip => 'S',
            Kind::HardClip => 'H',
            Kind::Pad => 'P',
            Kind::SequenceMatch => '=',
            Kind::SequenceMismatch => 'X',
        };
        s.push_str(&op.len().to_string());
        s.push(ch);
    }
    Ok((!s.is_empty()).then_some(s))
}

/// Decodes any SAM-model record.
fn decode(
    rec: &dyn sam::alignment::Record,
    header: &sam::Header,
    i: u64,
    cram: bool,
) -> io::Result<Alignment> {
    let kind = if cram { Error::Cram } else { Error::Bam };
    let bad = |what: &str, e: io::Error| invalid(kind, format!("record {i}: {what}: {e}"));
    let flags = rec.flags().map_err(|e| bad("flags", e))?;
    let ref_id = rec
        .reference_sequence_id(header)
        .transpose()
        .map_err(|e| bad("reference id", e))?;
    let pos0 = rec
        .alignment_start()
        .transpose()
        .map_err(|e| bad("position", e))?
        .map(|p| p.get() as u64 - 1);
    let mapq = rec
        .mapping_quality()
        .transpose()
        .map_err(|e| bad("mapping quality", e))?
        .map(u8::from)
        // CRAM stores no MAPQ for unmapped reads; htslib (samtools, pysam) decodes it as 0,
        // which is also what BAM files hold there, so do the same
        .unwrap_or(if cram && flags.is_unmapped() { 0 } else { 255 });
    let cigar = if flags.is_unmapped() {
        None
    } else {
        cigar_string(rec.cigar().as_ref()).map_err(|e| bad("cigar", e))?
    };
    let seq: Vec<u8> = rec.sequence().iter().collect();
    let q = rec.quality_scores();
    let qual: Vec<u8> = q
        .iter()
        .collect::<io::Result<_>>()
        .map_err(|e| bad("quality", e))?;
    // BAM marks missing qualities with 0xFF; CRAM decoders with an empty or 0xFF array
    let qual = (!qual.is_empty() && qual.iter().any(|&b| b != 0xff)).then_some(qual);
    Ok(Alignment {
        qname: rec.name().map(|n| String::from_utf8_lossy(n).into_owned()),
        flag: flags.bits(),
        ref_id,
        pos0,
        mapq,
        cigar,
        seq,
        qual,
    })
}

/// A BAM reader with its BGZF layer's type erased.
trait BamRead {
    fn read_record(&mut self, rec: &mut bam::Record) -> io::Result<usize>;
}

impl<R: io::Read> BamRead for bam::io::Reader<R> {
    fn read_record(&mut self, rec: &mut bam::Record) -> io::Result<usize> {
        bam::io::Reader::read_record(self, rec)
    }
}

enum Inner {
    Bam(Box<dyn BamRead>),
    Cram(Box<cram::io::Reader<File>>),
}

/// Reads BAM or CRAM (by magic bytes) as decoded [`Alignment`]s.
pub struct AlignmentReader {
    inner: Inner,
    header: sam::Header,
    references: Vec<(String, u64)>,
    format: &'static str,
}

fn is_cram(path: &Path) -> io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut f = File::open(path)?;
    let mut got = 0;
    while got < 4 {
        let k = f.read(&mut head[got..])?;
        if k == 0 {
            break;
        }
        got += k;
    }
    Ok(got == 4 && &head == b"CRAM")
}

impl AlignmentReader {
    /// Opens a BAM or CRAM file; `reference` is used for CRAM (see the module docs for the
    /// fallback to an adjacent FASTA).
    pub fn open(path: &Path, reference: Option<&Path>) -> io::Result<Self> {
        let (inner, header, format) = if is_cram(path)? {
            let reference = reference
                .map(Path::to_path_buf)
                .or_else(|| adjacent_reference(path));
            let repo = repository(reference.as_deref())?;
            let mut r = cram::io::reader::Builder::default()
                .set_reference_sequence_repository(repo)
                .build_from_path(path)?;
            let header = r
                .read_header()
                .map_err(|e| invalid(Error::Cram, format!("header: {e}")))?;
            if let Some(p) = &reference {
                check_reference_lengths(&header, p)?;
            }
            (Inner::Cram(Box::new(r)), header, "cram")
        } else {
            let mut r = bam::io::Reader::new(File::open(path)?);
            let header = r
                .read_header()
                .map_err(|e| invalid(Error::Bam, format!("bam header: {e}")))?;
            (Inner::Bam(Box::new(r) as Box<dyn BamRead>), header, "bam")
        };
        let references = header
            .reference_sequences()
            .iter()
            .map(|(n, rs)| (n.to_string(), rs.length().get() as u64))
            .collect();
        Ok(AlignmentReader {
            inner,
            header,
            references,
            format,
        })
    }

    /// `"bam"` or `"cram"`.
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// Reference sequences (name, length) in header order.
    pub fn references(&self) -> &[(String, u64)] {
        &self.references
    }

    /// The name of reference `id`.
    pub fn reference_name(&self, id: usize) -> Option<&str> {
        self.references.get(id).map(|r| r.0.as_str())
    }

    /// Calls `f` on every record, in file order.
    pub fn for_each(&mut self, mut f: impl FnMut(&Alignment) -> io::Result<()>) -> io::Result<()> {
        let header = &self.header;
        let mut i = 0u64;
        match &mut self.inner {
            Inner::Bam(r) => {
                let mut rec = bam::Record::default();
                loop {
                    let n = r
                        .read_record(&mut rec)
                        .map_err(|e| invalid(Error::Bam, format!("record {i}: {e}")))?;
                    if n == 0 {
                        break;
                    }
                    f(&decode(&rec, header, i, false)?)?;
                    i += 1;
                }
            }
            Inner::Cram(r) => {
                let mut records = r.records(header);
                loop {
                    // noodles-cram still panics (`expect`) on some malformed slices; a panic
                    // there becomes an error here, and reading stops
                    let next =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| records.next()))
                            .map_err(|p| {
                            let what = p
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| p.downcast_ref::<String>().cloned())
                                .unwrap_or_else(|| "decoder panic".into());
                            invalid(Error::Cram, format!("record {i}: malformed cram: {what}"))
                        })?;
                    let Some(rec) = next else { break };
                    let rec = rec.map_err(|e| invalid(Error::Cram, format!("record {i}: {e}")))?;
                    f(&decode(&rec, header, i, true)?)?;
                    i += 1;
                }
            }
        }
        Ok(())
    }
}

/// Summarises a CRAM (or BAM) file the way [`crate::bam::summarize`] does for BAM.
pub fn summarize(path: &Path, reference: Option<&Path>, n_first: usize) -> io::Result<Summary> {
    let mut r = AlignmentReader::open(path, reference)?;
    let mut s = Summary {
        references: r.references().to_vec(),
        ..Default::default()
    };
    let refs = s.references.clone();
    let mut first = Vec::new();
    let (mut n, mut un, mut sec, mut sup) = (0u64, 0u64, 0u64, 0u64);
    r.for_each(|a| {
        n += 1;
        un += u64::from(a.is_unmapped());
        sec += u64::from(a.is_secondary());
        sup += u64::from(a.is_supplementary());
        if first.len() < n_first {
            let rname = match a.ref_id {
                Some(id) if !a.is_unmapped() => {
                    Some(refs.get(id).map(|r| r.0.clone()).ok_or_else(|| {
                        invalid(
                            Error::Bam,
                            format!("record {}: reference id {id} not in the header", n - 1),
                        )
                    })?)
                }
                _ => None,
            };
            first.push(BriefRecord {
                qname: a.qname.clone(),
                flag: a.flag,
                rname,
                pos0: a.pos0,
                mapq: a.mapq,
                cigar: a.cigar.clone(),
            });
        }
        Ok(())
    })?;
    s.n_records = n;
    s.n_unmapped_flag = un;
    s.n_secondary = sec;
    s.n_supplementary = sup;
    s.first_records = first;
    Ok(s)
}
