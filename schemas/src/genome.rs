//! Canonical metadata of the genome modalities (`genome/1`): DNA windows.
//!
//! One canonical sample is one window of one sequence (chromosome, contig, plasmid) of one
//! genome. Members:
//!
//! - `seq.txt`: the bases as stored in the source (ASCII, case kept: soft-masked bases are
//!   lowercase; `N`/`n` and IUPAC codes kept), reverse-complemented when `strand` is `-`;
//! - `softmask.npy`: uint8 `[ceil(length / 8)]`, packed bits, 1 where the base is lowercase;
//! - `nmask.npy`: uint8 `[ceil(length / 8)]`, packed bits, 1 where the base is N or n;
//! - `track.npy` (optional): float32 `[length]`, per-base values of a bigWig track, NaN where
//!   the track has no value;
//! - `labels.npy` (optional): uint8 `[length]`, per-base interval class (0 = none, k = `label_classes[k-1]`);
//! - `meta.json`: a serialised [`Window`].
//!
//! Bits are packed in little-endian bit order: base `i` is bit `i % 8` of byte `i / 8`
//! (NumPy: `np.unpackbits(m, bitorder="little")[:length]`). Coordinates are 0-based half-open
//! on the forward strand of the assembly's sequence.
//!
//! ```
//! use bomdata_schemas::genome::Window;
//! let mut w = Window::new("chr1", 1000, 2024);
//! w.assembly = Some("T2T-CHM13v2.0".into());
//! w.split = "valid".into();
//! let json = serde_json::to_string(&w).unwrap();
//! let back: Window = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.length, 1024);
//! assert_eq!(back.schema, "genome/1");
//! assert_eq!(back.mask_bit_order, "little");
//! ```

use serde::{Deserialize, Serialize};

use crate::Provenance;

/// Schema version string of this module.
pub const VERSION: &str = "genome/1";

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

/// A bigWig track aligned to the window (`track.npy`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// Track name (file stem or configured name).
    pub name: String,
    /// The chromosome name used in the track file.
    pub track_chrom: String,
}

/// Metadata of one DNA window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
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
    /// Start, 0-based, forward strand.
    pub start: u64,
    /// End, exclusive.
    pub end: u64,
    /// `end - start`.
    pub length: u64,
    /// `"+"`, or `"-"` when `seq.txt` is the reverse complement.
    pub strand: String,
    /// `"train"`, `"valid"` or `"test"` (or another label given by the split file).
    pub split: String,
    /// Number of N/n bases.
    pub n_count: u64,
    /// Number of lowercase (soft-masked) bases.
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
    /// Where the bases came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl Window {
    /// A forward-strand training window with everything else empty.
    pub fn new(chrom: impl Into<String>, start: u64, end: u64) -> Self {
        Window {
            schema: VERSION.into(),
            assembly: None,
            chrom: chrom.into(),
            source_chrom: None,
            chrom_length: 0,
            start,
            end,
            length: end.saturating_sub(start),
            strand: "+".into(),
            split: "train".into(),
            n_count: 0,
            lowercase_count: 0,
            mask_bit_order: "little".into(),
            taxonomy: None,
            track: None,
            label_classes: Vec::new(),
            provenance: None,
        }
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
