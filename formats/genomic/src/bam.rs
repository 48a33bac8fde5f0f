//! BAM through `noodles-bam`: references, record counts by flag and the first records.
//! CRAM is read by [`crate::cram`] (with a reference).

use std::fs::File;
use std::io;
use std::path::Path;

use noodles_bam as bam;
use serde_json::{Value, json};

use crate::error::{Error, invalid};

/// The first records' essentials, as `bomdata probe` reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BriefRecord {
    /// Read name.
    pub qname: Option<String>,
    /// SAM flag.
    pub flag: u16,
    /// Reference name (None when the read is unmapped or has no reference).
    pub rname: Option<String>,
    /// 0-based position (None when absent).
    pub pos0: Option<u64>,
    /// Mapping quality (255 when missing).
    pub mapq: u8,
    /// CIGAR text (None when unmapped or empty).
    pub cigar: Option<String>,
}

impl BriefRecord {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({"qname": self.qname, "flag": self.flag, "rname": self.rname, "pos0": self.pos0,
               "mapq": self.mapq, "cigar": self.cigar})
    }
}

/// Summary of a BAM file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Reference sequences (name, length) in header order.
    pub references: Vec<(String, u64)>,
    /// All records.
    pub n_records: u64,
    /// Records with flag 0x4.
    pub n_unmapped_flag: u64,
    /// Records with flag 0x100.
    pub n_secondary: u64,
    /// Records with flag 0x800.
    pub n_supplementary: u64,
    /// The first `n_first` records.
    pub first_records: Vec<BriefRecord>,
}

fn cigar_text(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let mut s = String::new();
    for c in raw.chunks_exact(4) {
        let v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let op = b"MIDNSHP=X"
            .get((v & 0xf) as usize)
            .copied()
            .unwrap_or(b'?');
        s.push_str(&(v >> 4).to_string());
        s.push(op as char);
    }
    Some(s)
}

/// Reads the whole BAM file and summarises it.
pub fn summarize(path: &Path, n_first: usize) -> io::Result<Summary> {
    let mut head = [0u8; 4];
    {
        use std::io::Read;
        let mut f = File::open(path)?;
        let n = f.read(&mut head)?;
        if n >= 4 && &head == b"CRAM" {
            return crate::cram::summarize(path, None, n_first);
        }
    }
    let mut reader = bam::io::Reader::new(File::open(path)?);
    let header = reader
        .read_header()
        .map_err(|e| invalid(Error::Bam, format!("header: {e}")))?;
    let references: Vec<(String, u64)> = header
        .reference_sequences()
        .iter()
        .map(|(n, rs)| (n.to_string(), rs.length().get() as u64))
        .collect();
    let mut s = Summary {
        references,
        ..Default::default()
    };
    let mut rec = bam::Record::default();
    loop {
        let n = reader
            .read_record(&mut rec)
            .map_err(|e| invalid(Error::Bam, format!("record {}: {e}", s.n_records)))?;
        if n == 0 {
            break;
        }
        let flags = rec.flags();
        let i = s.n_records;
        s.n_records += 1;
        s.n_unmapped_flag += u64::from(flags.is_unmapped());
        s.n_secondary += u64::from(flags.is_secondary());
        s.n_supplementary += u64::from(flags.is_supplementary());
        if s.first_records.len() < n_first {
            let rid = rec
                .reference_sequence_id()
                .transpose()
                .map_err(|e| invalid(Error::Bam, format!("record {i}: reference id: {e}")))?;
            let rname = match rid {
                Some(id) if !flags.is_unmapped() => {
                    Some(s.references.get(id).map(|r| r.0.clone()).ok_or_else(|| {
                        invalid(
                            Error::Bam,
                            format!("record {i}: reference id {id} not in the header"),
                        )
                    })?)
                }
                _ => None,
            };
            let pos0 = rec
                .alignment_start()
                .transpose()
                .map_err(|e| invalid(Error::Bam, format!("record {i}: position: {e}")))?
                .map(|p| p.get() as u64 - 1);
            s.first_records.push(BriefRecord {
                qname: rec.name().map(|n| n.to_string()),
                flag: flags.bits(),
                rname,
                pos0,
                mapq: rec.mapping_quality().map(u8::from).unwrap_or(255),
                cigar: if flags.is_unmapped() {
                    None
                } else {
                    cigar_text(rec.cigar().as_bytes())
                },
            });
        }
    }
    Ok(s)
}
