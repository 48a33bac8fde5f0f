//! Canonical metadata of the genome modalities (`genome/2`): DNA windows in blocks.
//!
//! One canonical sample is one *block* of consecutive windows of one sequence (chromosome,
//! contig, plasmid) of one genome, all of one split: up to [`BLOCK_BASES`] bases (at least one
//! window). A block ends where the sequence ends or the split changes, so held-out chromosomes
//! and intervals stay exact. Members:
//!
//! - `seq.txt` (or `seq.npy`, uint8 `[bases]`): the bases of every window, concatenated in
//!   window order (window `i` is `offsets[i]..offsets[i + 1]`, see [`WindowBlock::offsets`]),
//!   as stored in the source (ASCII, case kept: soft-masked bases are lowercase; `N`/`n` and
//!   IUPAC codes kept), each window reverse-complemented when its strand is `-`;
//! - `softmask.npy`: uint8 `[ceil(bases / 8)]`, packed bits over the concatenated bases, 1
//!   where the base is lowercase;
//! - `nmask.npy`: uint8 `[ceil(bases / 8)]`, packed bits, 1 where the base is N or n;
//! - `track.npy` (optional): float32 `[bases]`, per-base values of a bigWig track, NaN where
//!   the track has no value;
//! - `labels.npy` (optional): uint8 `[bases]`, per-base interval class (0 = none, k = `label_classes[k-1]`);
//! - `meta.json`: a serialised [`WindowBlock`] (the shared fields once, the per-window ones as
//!   columns).
//!
//! Bits are packed in little-endian bit order: base `j` of the block is bit `j % 8` of byte
//! `j / 8` (NumPy: `np.unpackbits(m, bitorder="little")[:bases]`). Coordinates are 0-based
//! half-open on the forward strand of the assembly's sequence.
//!
//! `genome/1` (before blocks) stored every window as its own sample of four members; a block
//! of one window holds the same bases and masks. Window `i` of a block has the key the window
//! had as a sample then ([`WindowBlock::window_key`]).
//!
//! ```
//! use bomdata_schemas::genome::WindowBlock;
//! let mut b = WindowBlock::new("chr1", 7);
//! b.push_window(1000, 1024, '+', 3, 0);
//! b.push_window(2024, 1024, '+', 0, 512);
//! b.split = "valid".into();
//! let json = serde_json::to_string(&b).unwrap();
//! let back: WindowBlock = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.offsets(), vec![0, 1024, 2048]);
//! assert_eq!(back.schema, "genome/2");
//! assert_eq!(back.lowercase_count, 512);
//! assert_eq!(WindowBlock::window_key("src_s_chr1_dna_000007", 7, 1), "src_s_chr1_dna_000008");
//! ```

use serde::{Deserialize, Serialize};

use crate::Provenance;

/// Schema version string of this module.
pub const VERSION: &str = "genome/2";

/// Bases per block: a block is closed once it holds this many (a window is never cut).
pub const BLOCK_BASES: u64 = 1 << 20;

/// Taxonomy of the genome a window comes from (genome collections).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// Species name, e.g. `"Escherichia coli"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub species: Option<String>,
    /// NCBI taxonomy ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxid: Option<u64>,
    /// Lineage as ranks from domain down (GTDB style `d__Bacteria;p__...`), when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<String>,
}

/// A bigWig track aligned to the windows (`track.npy`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// Track name (file stem or configured name).
    pub name: String,
    /// The chromosome name used in the track file.
    pub track_chrom: String,
}

/// Metadata of one block of DNA windows (`meta.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowBlock {
    /// Always [`VERSION`].
    pub schema: String,
    /// Assembly name (`"GRCh38"`, `"T2T-CHM13v2.0"`) or the genome accession of a collection
    /// member (`"GCF_000005845.2"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assembly: Option<String>,
    /// Canonical sequence name (`chr1` for the human assemblies; the FASTA name otherwise).
    pub chrom: String,
    /// The name as written in the source FASTA when it differs (`NC_060925.1`, `1`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_chrom: Option<String>,
    /// Length of the whole sequence.
    #[serde(default)]
    pub chrom_length: u64,
    /// `"train"`, `"valid"` or `"test"` (or another label given by the split file): every
    /// window of the block has it.
    pub split: String,
    /// Index of the block's first window among the sequence's windows.
    pub first_index: u64,
    /// Per window: start, 0-based, forward strand.
    pub starts: Vec<u64>,
    /// Per window: length (`end - start`; bases in `seq.txt`).
    pub lengths: Vec<u64>,
    /// Per window: `+`, or `-` when its bases are the reverse complement (one character each).
    pub strands: String,
    /// Per window: number of N/n bases.
    pub n_counts: Vec<u64>,
    /// Per window: number of lowercase (soft-masked) bases.
    pub lowercase_counts: Vec<u64>,
    /// N/n bases of the block.
    pub n_count: u64,
    /// Lowercase bases of the block.
    pub lowercase_count: u64,
    /// Bit order of `softmask.npy` and `nmask.npy` (always `"little"`).
    pub mask_bit_order: String,
    /// Taxonomy (genome collections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxonomy: Option<Taxonomy>,
    /// The aligned track, when `track.npy` is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<TrackInfo>,
    /// Class names of `labels.npy` (id k is `label_classes[k-1]`), when present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_classes: Vec<String>,
    /// Where the bases came from (`part`: the sequence and the span of the block's windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl WindowBlock {
    /// An empty training block of sequence `chrom` whose first window is number `first_index`.
    pub fn new(chrom: impl Into<String>, first_index: u64) -> Self {
        WindowBlock {
            schema: VERSION.into(),
            assembly: None,
            chrom: chrom.into(),
            source_chrom: None,
            chrom_length: 0,
            split: "train".into(),
            first_index,
            starts: Vec::new(),
            lengths: Vec::new(),
            strands: String::new(),
            n_counts: Vec::new(),
            lowercase_counts: Vec::new(),
            n_count: 0,
            lowercase_count: 0,
            mask_bit_order: "little".into(),
            taxonomy: None,
            track: None,
            label_classes: Vec::new(),
            provenance: None,
        }
    }

    /// Appends one window's columns.
    pub fn push_window(&mut self, start: u64, length: u64, strand: char, n: u64, lower: u64) {
        self.starts.push(start);
        self.lengths.push(length);
        self.strands.push(strand);
        self.n_counts.push(n);
        self.lowercase_counts.push(lower);
        self.n_count += n;
        self.lowercase_count += lower;
    }

    /// Number of windows.
    pub fn windows(&self) -> usize {
        self.lengths.len()
    }

    /// Bases of all windows.
    pub fn bases(&self) -> u64 {
        self.lengths.iter().sum()
    }

    /// Window boundaries in the concatenated bases: `[0, len_0, len_0 + len_1, ...]`.
    pub fn offsets(&self) -> Vec<u64> {
        let mut v = Vec::with_capacity(self.lengths.len() + 1);
        let mut at = 0u64;
        v.push(0);
        for l in &self.lengths {
            at = at.saturating_add(*l);
            v.push(at);
        }
        v
    }

    /// The key of window `i` of the block whose sample key is `block_key` (the key of its
    /// first window, `<...>_<first_index:06>`): the same trailing index, counted on.
    pub fn window_key(block_key: &str, first_index: u64, i: u64) -> String {
        let stem = block_key
            .rsplit_once('_')
            .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map_or(block_key, |(s, _)| s);
        format!("{stem}_{:06}", first_index.saturating_add(i))
    }
}

/// Metadata of one window of a sequencing read (`genome-read/1`; `meta.json` of read samples
/// cut from BAM/CRAM: `seq.txt`, optional `qual.npy`). No read name unless identity is kept.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadWindow {
    /// Always `"genome-read/1"`.
    pub schema: String,
    /// Assembly of the alignment, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assembly: Option<String>,
    /// Canonical reference name of the alignment (None: unmapped).
    pub chrom: Option<String>,
    /// The name in the file's header when it differs from `chrom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_chrom: Option<String>,
    /// 0-based leftmost mapping position of the read (None: unmapped).
    pub pos0: Option<u64>,
    /// `"+"` or `"-"` (flag 0x10) for mapped reads, `"*"` for unmapped ones.
    pub strand: String,
    /// Mapping quality (255: missing).
    pub mapq: u8,
    /// SAM flag.
    pub flag: u16,
    /// Ordinal of the read's record in the file (no read name).
    pub read_index: u64,
    /// Length of the whole read.
    pub read_length: u64,
    /// Offset of the window in the read (in the orientation written).
    pub offset: u64,
    /// Window length.
    pub length: u64,
    /// Whether the bases were reverse-complemented back to the sequencer's orientation.
    pub reverse_complemented: bool,
    /// Split label.
    pub split: String,
    /// Number of N/n bases.
    pub n_count: u64,
    /// Read name (only with `keep_identity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_name: Option<String>,
    /// Where the bases came from.
    pub provenance: Provenance,
}
