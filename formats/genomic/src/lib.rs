//! Genomic readers for bomdata: FASTA (plain, gzip, BGZF with `.fai`/`.gzi`), 2bit, BED and
//! narrowPeak, GTF/GFF3, bigWig/bigBed, BAM and CRAM (through `noodles`), sequence primitives
//! (random access, reverse complement, soft-mask and N masks: [`sequence`]) and `bomdata probe`
//! reports ([`probe`]). Cutting sequences and reads into training windows is the genome
//! adapter's work (`bomdata-ingest`), not this crate's.
//!
//! Coordinates are 0-based half-open throughout. Sequences are kept as stored: soft-masked
//! bases stay lowercase, so every model's case policy can be applied later.
//!
//! Supported:
//! - FASTA: plain, gzip (read whole), BGZF (random access by block scan; a shipped `.gzi` is
//!   compared with the scan). A `.fai` is built when missing; a shipped one that disagrees with
//!   the data is ignored (never trusted) and the reason is reported ([`fasta::FaiStatus`]).
//! - 2bit: little- and big-endian, version 0 and 1, N and soft-mask blocks; a writer.
//! - BED (3+ columns, narrowPeak), GTF and GFF3 (features up to `##FASTA`).
//! - bigWig (bedGraph, variableStep, fixedStep sections; zlib or uncompressed blocks) with exact
//!   per-base values, and bigBed entries.
//! - BAM: header, record counts, first records.
//! - CRAM (through `noodles-cram`) with a FASTA reference ([`cram`]); BAM and CRAM records
//!   decoded alike ([`cram::AlignmentReader`]).
//!
//! Not supported: 2bit files over 4 GiB in version 0,
//! bigWig zoom levels (only full-resolution data is read), zstd FASTA.
//!
//! ```
//! use bomdata_genomic::twobit;
//! let bytes = twobit::write(&[("chr1", b"ACGTnnNN")], false, 0).unwrap();
//! let tb = twobit::TwoBit::from_bytes(bytes).unwrap();
//! let mut seq = Vec::new();
//! tb.fetch("chr1", 2, 8, &mut seq).unwrap();
//! assert_eq!(seq, b"GTnnNN");
//! ```

pub mod bam;
pub mod bbi;
pub mod bed;
pub mod bgzf;
pub mod cram;
pub mod error;
pub mod fasta;
pub mod gff;
pub mod inflate;
pub mod probe;
pub mod sequence;
pub mod twobit;

pub use error::{Error, Region};
