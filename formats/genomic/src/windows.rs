//! DNA windows: fixed length and stride over whole sequences, or inside labelled intervals
//! (a Basenji-style `chrom start end split` BED), with an N-run policy, the sequence kept as
//! stored plus a soft-mask bit mask and an N bit mask, optional reverse complement, train /
//! valid / test assignment with no base in two splits, and per-base bigWig values and interval
//! class labels aligned to each window.
//!
//! Bit masks are packed little-endian bit order: base `i` is bit `i % 8` of byte `i / 8`
//! (NumPy `np.unpackbits(m, bitorder="little")[:len]`).
//!
//! ```
//! use bomdata_genomic::twobit::{self, TwoBit};
//! use bomdata_genomic::windows::{Plan, Spec, Windower};
//! let tb = TwoBit::from_bytes(twobit::write(&[("c", b"ACGTacgtNNNNACGT")], false, 0).unwrap()).unwrap();
//! let spec = Spec { length: 8, stride: 8, ..Spec::default() };
//! let mut w = Windower::new(tb, Plan::Fixed(spec));
//! let mut got = Vec::new();
//! w.for_each(|win| { got.push((win.start, win.seq.clone(), win.softmask.clone())); Ok(()) }).unwrap();
//! assert_eq!(got[0], (0, b"ACGTacgt".to_vec(), vec![0b1111_0000]));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io;

use crate::bbi::BbiFile;
use crate::error::{Error, invalid};
use crate::fasta::IndexedFasta;
use crate::twobit::TwoBit;

/// Anything windows can be cut from.
pub trait SequenceSource {
    /// (name, length) of every sequence, in file order.
    fn sequence_list(&self) -> Vec<(String, u64)>;
    /// Bases `[start, end)` of `name`, as stored, into `out` (cleared first).
    fn fetch_into(&mut self, name: &str, start: u64, end: u64, out: &mut Vec<u8>)
    -> io::Result<()>;
    /// True when fetching each window by itself is as cheap as reading big chunks (random
    /// access with its own caching): windows are then fetched straight into the window buffer,
    /// without an intermediate chunk copy.
    fn prefers_window_fetch(&self) -> bool {
        false
    }
}

impl SequenceSource for IndexedFasta {
    fn sequence_list(&self) -> Vec<(String, u64)> {
        self.sequences()
            .iter()
            .map(|r| (r.name.clone(), r.length))
            .collect()
    }
    fn fetch_into(
        &mut self,
        name: &str,
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.fetch(name, start, end, out)
    }
    fn prefers_window_fetch(&self) -> bool {
        true
    }
}

impl SequenceSource for TwoBit {
    fn sequence_list(&self) -> Vec<(String, u64)> {
        self.sequences()
            .iter()
            .map(|s| (s.name.clone(), s.length))
            .collect()
    }
    fn fetch_into(
        &mut self,
        name: &str,
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.fetch(name, start, end, out)
    }
}

/// What to do with windows containing N.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NPolicy {
    /// Keep every window.
    Keep,
    /// Skip windows whose fraction of N/n bases is above this value (0.0 skips any N).
    SkipAbove(f64),
}

/// Which strands to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strands {
    /// The forward strand only.
    Forward,
    /// The reverse complement only.
    Reverse,
    /// Both: every window twice, forward then reverse complement.
    Both,
}

/// How windows are assigned to splits.
#[derive(Clone, Debug, PartialEq)]
pub enum SplitBy {
    /// Whole sequences: the map gives a sequence's split; others get `default`.
    Chromosome {
        /// Sequence name to split label.
        map: HashMap<String, String>,
        /// Split of unlisted sequences.
        default: String,
    },
    /// Labelled intervals (only with [`Plan::Intervals`]): each window takes its interval's label.
    Interval,
}

impl Default for SplitBy {
    fn default() -> Self {
        SplitBy::Chromosome {
            map: HashMap::new(),
            default: "train".into(),
        }
    }
}

/// Window geometry and policies.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Window length in bases.
    pub length: u64,
    /// Distance between window starts.
    pub stride: u64,
    /// N policy.
    pub n_policy: NPolicy,
    /// Strands to emit.
    pub strands: Strands,
    /// Split assignment.
    pub split: SplitBy,
    /// Sequences to use (empty: all).
    pub only: Vec<String>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            length: 1024,
            stride: 1024,
            n_policy: NPolicy::Keep,
            strands: Strands::Forward,
            split: SplitBy::default(),
            only: Vec::new(),
        }
    }
}

/// A labelled interval (0-based half-open).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledInterval {
    /// Sequence name.
    pub chrom: String,
    /// Start.
    pub start: u64,
    /// End (exclusive).
    pub end: u64,
    /// Split label (train / valid / test).
    pub label: String,
}

/// Where windows come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Fixed length and stride along every sequence (windows that would run past the end are
    /// not emitted).
    Fixed(Spec),
    /// Inside labelled intervals. An interval shorter than `length` is extended symmetrically
    /// (as HyenaDNA does) but never past the run of same-label intervals it belongs to; one
    /// longer is cut into windows with `stride`. Intervals of different labels must not
    /// overlap (checked), so no base can reach two splits.
    Intervals(Spec, Vec<LabelledInterval>),
}

/// A window and its aligned data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// Sequence name.
    pub chrom: String,
    /// Start on the forward strand (0-based).
    pub start: u64,
    /// End (exclusive).
    pub end: u64,
    /// `'+'` or `'-'` (reverse complement).
    pub strand: char,
    /// Split label.
    pub split: String,
    /// Bases as stored (case kept), reverse-complemented when `strand == '-'`.
    pub seq: Vec<u8>,
    /// Packed bits: 1 where the base is lowercase (soft-masked).
    pub softmask: Vec<u8>,
    /// Packed bits: 1 where the base is N or n.
    pub nmask: Vec<u8>,
    /// Number of N/n bases.
    pub n_count: u64,
    /// Number of lowercase (soft-masked) bases.
    pub lowercase: u64,
    /// Per-base track values (NaN where the track has none), when a track is attached.
    pub track: Option<Vec<f32>>,
    /// Per-base class labels (0 = none), when labels are attached.
    pub labels: Option<Vec<u8>>,
}

/// Complement of a base, case kept; IUPAC codes complemented, anything else unchanged.
pub fn complement(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'T' => b'A',
        b'C' => b'G',
        b'G' => b'C',
        b'a' => b't',
        b't' => b'a',
        b'c' => b'g',
        b'g' => b'c',
        b'R' => b'Y',
        b'Y' => b'R',
        b'K' => b'M',
        b'M' => b'K',
        b'B' => b'V',
        b'V' => b'B',
        b'D' => b'H',
        b'H' => b'D',
        b'r' => b'y',
        b'y' => b'r',
        b'k' => b'm',
        b'm' => b'k',
        b'b' => b'v',
        b'v' => b'b',
        b'd' => b'h',
        b'h' => b'd',
        other => other,
    }
}

/// Reverse-complements `seq` in place.
pub fn reverse_complement(seq: &mut [u8]) {
    seq.reverse();
    for b in seq.iter_mut() {
        *b = complement(*b);
    }
}

/// Packs the soft-mask and N masks of `seq` (little-endian bit order); returns the N count.
pub fn masks(seq: &[u8], softmask: &mut Vec<u8>, nmask: &mut Vec<u8>) -> u64 {
    masks_counts(seq, softmask, nmask).0
}

/// Packs the soft-mask and N masks of `seq`; returns (N count, lowercase count).
pub fn masks_counts(seq: &[u8], softmask: &mut Vec<u8>, nmask: &mut Vec<u8>) -> (u64, u64) {
    softmask.clear();
    nmask.clear();
    let nbytes = seq.len().div_ceil(8);
    softmask.resize(nbytes, 0);
    nmask.resize(nbytes, 0);
    #[cfg(target_arch = "x86_64")]
    let ((mut n_count, mut low_count), done) = {
        let popcnt = std::arch::is_x86_feature_detected!("popcnt");
        let (mut counts, mut done) = ((0u64, 0u64), 0usize);
        if popcnt
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            done = seq.len() / 64 * 64;
            // SAFETY: AVX-512F/BW and POPCNT were detected at run time.
            counts = unsafe {
                masks64_avx512(
                    &seq[..done],
                    &mut softmask[..done / 8],
                    &mut nmask[..done / 8],
                )
            };
        }
        let (lo, (n, l)) = if popcnt && std::arch::is_x86_feature_detected!("avx2") {
            let full = done + (seq.len() - done) / 32 * 32;
            // SAFETY: AVX2 and POPCNT were detected at run time.
            let c = unsafe {
                masks32_avx2(
                    &seq[done..full],
                    &mut softmask[done / 8..full / 8],
                    &mut nmask[done / 8..full / 8],
                )
            };
            (full, c)
        } else {
            let full = done + (seq.len() - done) / 16 * 16;
            let c = masks16_sse2(
                &seq[done..full],
                &mut softmask[done / 8..full / 8],
                &mut nmask[done / 8..full / 8],
            );
            (full, c)
        };
        ((counts.0 + n, counts.1 + l), lo)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let ((mut n_count, mut low_count), done) = ((0u64, 0u64), 0usize);
    let mut chunks = seq[done..].chunks_exact(8);
    let mut k = done / 8;
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // lowercase ASCII letters have bit 0x20 set
        let lower = (x >> 5) & 0x0101_0101_0101_0101;
        // N or n: (b | 0x20) == b'n'; exact zero-byte detection on the xor
        let y = (x | 0x2020_2020_2020_2020) ^ 0x6e6e_6e6e_6e6e_6e6e;
        let t = (y & 0x7f7f_7f7f_7f7f_7f7f).wrapping_add(0x7f7f_7f7f_7f7f_7f7f);
        let isn = !(t | y | 0x7f7f_7f7f_7f7f_7f7f) >> 7;
        let pack = |v: u64| -> u8 { (v.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8 };
        let sb = pack(lower);
        softmask[k] = sb;
        low_count += u64::from(sb.count_ones());
        let nb = pack(isn);
        n_count += u64::from(nb.count_ones());
        nmask[k] = nb;
        k += 1;
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let (mut s, mut n) = (0u8, 0u8);
        for (i, &b) in rem.iter().enumerate() {
            s |= u8::from(b.is_ascii_lowercase()) << i;
            low_count += u64::from(b.is_ascii_lowercase());
            let isn = b == b'N' || b == b'n';
            n |= u8::from(isn) << i;
            n_count += u64::from(isn);
        }
        softmask[k] = s;
        nmask[k] = n;
    }
    (n_count, low_count)
}

/// AVX-512BW: 64 bases per step, each mask straight from a compare into a 64-bit mask
/// register. `seq.len()` is a multiple of 64 and the masks hold `seq.len() / 8` bytes.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,popcnt")]
unsafe fn masks64_avx512(seq: &[u8], soft: &mut [u8], nmask: &mut [u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_movepi8_mask, _mm512_or_si512,
        _mm512_set1_epi8, _mm512_slli_epi16,
    };
    let (mut n_count, mut low_count) = (0u64, 0u64);
    for ((c, s), n) in seq
        .chunks_exact(64)
        .zip(soft.chunks_exact_mut(8))
        .zip(nmask.chunks_exact_mut(8))
    {
        // SAFETY: `c` is 64 readable bytes and the load is unaligned.
        let v = unsafe { _mm512_loadu_si512(c.as_ptr().cast::<__m512i>()) };
        // bit 5 (0x20, lowercase) moved to bit 7 of each byte
        let sm = _mm512_movepi8_mask(_mm512_slli_epi16::<2>(v));
        let low = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let nm = _mm512_cmpeq_epi8_mask(low, _mm512_set1_epi8(b'n' as i8));
        s.copy_from_slice(&sm.to_le_bytes());
        n.copy_from_slice(&nm.to_le_bytes());
        n_count += u64::from(nm.count_ones());
        low_count += u64::from(sm.count_ones());
    }
    (n_count, low_count)
}

/// AVX2: 32 bases per step. `seq.len()` is a multiple of 32 and the masks hold
/// `seq.len() / 8` bytes.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn masks32_avx2(seq: &[u8], soft: &mut [u8], nmask: &mut [u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_slli_epi16,
    };
    let (mut n_count, mut low_count) = (0u64, 0u64);
    for ((c, s), n) in seq
        .chunks_exact(32)
        .zip(soft.chunks_exact_mut(4))
        .zip(nmask.chunks_exact_mut(4))
    {
        // SAFETY: `c` is 32 readable bytes and the load is unaligned.
        let v = unsafe { _mm256_loadu_si256(c.as_ptr().cast::<__m256i>()) };
        // bit 5 (0x20, lowercase) moved to bit 7 of each byte
        let sm = _mm256_movemask_epi8(_mm256_slli_epi16::<2>(v)) as u32;
        let low = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        let nm = _mm256_movemask_epi8(_mm256_cmpeq_epi8(low, _mm256_set1_epi8(b'n' as i8))) as u32;
        s.copy_from_slice(&sm.to_le_bytes());
        n.copy_from_slice(&nm.to_le_bytes());
        n_count += u64::from(nm.count_ones());
        low_count += u64::from(sm.count_ones());
    }
    (n_count, low_count)
}

/// SSE2 (always present on x86_64): 16 bases per step. `seq.len()` is a multiple of 16 and the
/// masks hold `seq.len() / 8` bytes.
#[cfg(target_arch = "x86_64")]
fn masks16_sse2(seq: &[u8], soft: &mut [u8], nmask: &mut [u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_slli_epi16,
    };
    let (mut n_count, mut low_count) = (0u64, 0u64);
    for ((c, s), n) in seq
        .chunks_exact(16)
        .zip(soft.chunks_exact_mut(2))
        .zip(nmask.chunks_exact_mut(2))
    {
        // SAFETY: SSE2 is part of the x86_64 baseline; `c` is 16 readable bytes and the load is
        // unaligned.
        let (sm, nm) = unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast::<__m128i>());
            // bit 5 (0x20, lowercase) moved to bit 7 of each byte
            let sm = _mm_movemask_epi8(_mm_slli_epi16::<2>(v)) as u32;
            let low = _mm_or_si128(v, _mm_set1_epi8(0x20));
            let nm = _mm_movemask_epi8(_mm_cmpeq_epi8(low, _mm_set1_epi8(b'n' as i8))) as u32;
            (sm, nm)
        };
        s.copy_from_slice(&(sm as u16).to_le_bytes());
        n.copy_from_slice(&(nm as u16).to_le_bytes());
        n_count += u64::from(nm.count_ones());
        low_count += u64::from(sm.count_ones());
    }
    (n_count, low_count)
}

/// A bigWig track aligned to windows; `rename` maps sequence names to the track's names.
pub struct Track {
    /// The bigWig file.
    pub file: BbiFile,
    /// Sequence name to track chromosome name (names not listed are used as they are).
    pub rename: HashMap<String, String>,
}

/// Interval class labels aligned to windows (from BED names or GTF/GFF feature types).
#[derive(Clone, Debug, Default)]
pub struct Labels {
    /// Class names; class id = index + 1 (0 means no interval).
    pub classes: Vec<String>,
    by_chrom: HashMap<String, Vec<(u64, u64, u8)>>,
}

impl Labels {
    /// Builds labels from (chrom, start, end, class name) intervals. Where intervals of several
    /// classes overlap, the class listed later in `classes` wins. Intervals of other classes
    /// are ignored.
    pub fn new(
        classes: Vec<String>,
        intervals: impl IntoIterator<Item = (String, u64, u64, String)>,
    ) -> io::Result<Self> {
        if classes.len() > 255 {
            return Err(invalid(
                Error::Windows,
                format!("{} label classes, at most 255", classes.len()),
            ));
        }
        let ids: HashMap<&str, u8> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), (i + 1) as u8))
            .collect();
        let mut by_chrom: HashMap<String, Vec<(u64, u64, u8)>> = HashMap::new();
        for (c, s, e, name) in intervals {
            if let Some(&id) = ids.get(name.as_str()) {
                by_chrom.entry(c).or_default().push((s, e, id));
            }
        }
        for v in by_chrom.values_mut() {
            v.sort_unstable();
        }
        Ok(Labels { classes, by_chrom })
    }

    /// From GTF/GFF3 features, classes = feature types.
    pub fn from_gff(classes: Vec<String>, features: &[crate::gff::Record]) -> io::Result<Self> {
        Self::new(
            classes,
            features
                .iter()
                .map(|f| (f.seqid.clone(), f.start, f.end, f.feature_type.clone())),
        )
    }

    /// From BED records, classes = the name column (or `default` when absent).
    pub fn from_bed(
        classes: Vec<String>,
        records: &[crate::bed::Record],
        default: &str,
    ) -> io::Result<Self> {
        Self::new(
            classes,
            records.iter().map(|r| {
                (
                    r.chrom.clone(),
                    r.start,
                    r.end,
                    r.name().unwrap_or(default).to_string(),
                )
            }),
        )
    }

    /// Fills the labels of `chrom:[start, start + out.len())`.
    pub fn fill(&self, chrom: &str, start: u64, out: &mut [u8]) {
        out.fill(0);
        let end = start + out.len() as u64;
        let Some(v) = self.by_chrom.get(chrom) else {
            return;
        };
        // intervals sorted by start; scan those starting before `end`
        let hi = v.partition_point(|iv| iv.0 < end);
        let mut best: Vec<&(u64, u64, u8)> = v[..hi].iter().filter(|iv| iv.1 > start).collect();
        best.sort_by_key(|iv| iv.2);
        for &&(s, e, id) in &best {
            let a = s.max(start);
            let b = e.min(end);
            out[(a - start) as usize..(b - start) as usize].fill(id);
        }
    }
}

/// One planned window: indices into [`Planned`]'s name and split tables.
#[derive(Clone, Copy, Debug)]
struct PlannedWindow {
    chrom: usize,
    start: u64,
    end: u64,
    split: usize,
}

/// The windows of a plan, without a string per window.
#[derive(Debug, Default)]
struct Planned {
    names: Vec<String>,
    splits: Vec<String>,
    windows: Vec<PlannedWindow>,
}

impl Planned {
    /// Windows come grouped by sequence, so only the last name is compared.
    fn name_id(&mut self, name: String) -> usize {
        if self.names.last() != Some(&name) {
            self.names.push(name);
        }
        self.names.len() - 1
    }

    fn split_id(&mut self, split: String) -> usize {
        match self.splits.iter().position(|n| *n == split) {
            Some(i) => i,
            None => {
                self.splits.push(split);
                self.splits.len() - 1
            }
        }
    }
}

/// Cuts windows from a sequence source.
pub struct Windower<S> {
    source: S,
    plan: Plan,
    track: Option<Track>,
    labels: Option<Labels>,
    skipped_n: u64,
    skipped_short: u64,
    chunk: u64,
}

/// Merged same-label runs per sequence: (start, end, label), sorted.
pub type Territories = BTreeMap<String, Vec<(u64, u64, String)>>;

/// Checks that intervals of different labels never overlap; returns the merged same-label runs
/// ("territories") per sequence, sorted.
pub fn territories(intervals: &[LabelledInterval]) -> io::Result<Territories> {
    let mut by: BTreeMap<String, Vec<(u64, u64, String)>> = BTreeMap::new();
    for iv in intervals {
        if iv.end <= iv.start {
            continue;
        }
        by.entry(iv.chrom.clone())
            .or_default()
            .push((iv.start, iv.end, iv.label.clone()));
    }
    for (chrom, v) in by.iter_mut() {
        v.sort();
        let mut merged: Vec<(u64, u64, String)> = Vec::new();
        for (s, e, l) in v.drain(..) {
            if let Some(last) = merged.last_mut() {
                if s < last.1 && l != last.2 {
                    return Err(invalid(
                        Error::Windows,
                        format!(
                            "{chrom}:{s}-{e} ({l}) overlaps {chrom}:{}-{} ({}): a base would be in two splits",
                            last.0, last.1, last.2
                        ),
                    ));
                }
                if s <= last.1 && l == last.2 {
                    last.1 = last.1.max(e);
                    continue;
                }
            }
            merged.push((s, e, l));
        }
        *v = merged;
    }
    Ok(by)
}

impl<S: SequenceSource> Windower<S> {
    /// A windower over `source`.
    pub fn new(source: S, plan: Plan) -> Self {
        Windower {
            source,
            plan,
            track: None,
            labels: None,
            skipped_n: 0,
            skipped_short: 0,
            chunk: 2 << 20,
        }
    }

    /// Attaches a bigWig track: each window gets its per-base values.
    pub fn with_track(mut self, track: Track) -> Self {
        self.track = Some(track);
        self
    }

    /// Attaches interval labels: each window gets per-base class ids.
    pub fn with_labels(mut self, labels: Labels) -> Self {
        self.labels = Some(labels);
        self
    }

    /// Reads bases in chunks of at least `bases` (default 2 Mi): larger chunks mean fewer
    /// reads, smaller ones a smaller working set.
    pub fn with_chunk_bases(mut self, bases: u64) -> Self {
        self.chunk = bases;
        self
    }

    /// Windows skipped by the N policy so far.
    pub fn skipped_n(&self) -> u64 {
        self.skipped_n
    }

    /// Intervals skipped because their same-label run is shorter than the window.
    pub fn skipped_short(&self) -> u64 {
        self.skipped_short
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The (chrom, start, end, split) of every window the plan asks for, before the N policy.
    pub fn coordinates(&mut self) -> io::Result<Vec<(String, u64, u64, String)>> {
        let p = self.planned()?;
        Ok(p.windows
            .iter()
            .map(|w| {
                (
                    p.names[w.chrom].clone(),
                    w.start,
                    w.end,
                    p.splits[w.split].clone(),
                )
            })
            .collect())
    }

    /// The windows the plan asks for, before the N policy, with names and splits as indices
    /// (no string per window).
    fn planned(&mut self) -> io::Result<Planned> {
        let seqs = self.source.sequence_list();
        let mut p = Planned::default();
        let mut out = Vec::new();
        match &self.plan {
            Plan::Fixed(spec) => {
                check_spec(spec)?;
                if matches!(spec.split, SplitBy::Interval) {
                    return Err(invalid(
                        Error::Windows,
                        "split by interval needs Plan::Intervals",
                    ));
                }
                for (name, len) in &seqs {
                    if !spec.only.is_empty() && !spec.only.contains(name) {
                        continue;
                    }
                    let c = p.name_id(name.clone());
                    let split = p.split_id(split_of(&spec.split, name));
                    let mut s = 0;
                    while s + spec.length <= *len {
                        p.windows.push(PlannedWindow {
                            chrom: c,
                            start: s,
                            end: s + spec.length,
                            split,
                        });
                        s += spec.stride;
                    }
                }
            }
            Plan::Intervals(spec, intervals) => {
                check_spec(spec)?;
                let lens: HashMap<&str, u64> = seqs.iter().map(|(n, l)| (n.as_str(), *l)).collect();
                let terr = territories(intervals)?;
                let mut ivs = intervals.clone();
                ivs.sort_by(|a, b| (&a.chrom, a.start, a.end).cmp(&(&b.chrom, b.start, b.end)));
                for iv in ivs {
                    if !spec.only.is_empty() && !spec.only.contains(&iv.chrom) {
                        continue;
                    }
                    let Some(&chrom_len) = lens.get(iv.chrom.as_str()) else {
                        return Err(invalid(
                            Error::Windows,
                            format!("interval on {:?}, which the sequence file lacks", iv.chrom),
                        ));
                    };
                    let split = match &spec.split {
                        SplitBy::Interval => iv.label.clone(),
                        other => split_of(other, &iv.chrom),
                    };
                    // the same-label run that holds this interval, clipped to the sequence
                    let run = terr
                        .get(&iv.chrom)
                        .and_then(|v| v.iter().find(|t| t.0 <= iv.start && iv.end <= t.1))
                        .map(|t| (t.0, t.1.min(chrom_len)))
                        .unwrap_or((iv.start, iv.end.min(chrom_len)));
                    let (lo, hi) = run;
                    if hi < lo + spec.length {
                        self.skipped_short += 1;
                        continue;
                    }
                    let len = iv.end.min(chrom_len).saturating_sub(iv.start);
                    if len <= spec.length {
                        // extend symmetrically, then shift inside the run
                        let pad = (spec.length - len) / 2;
                        let s = iv.start.saturating_sub(pad).clamp(lo, hi - spec.length);
                        out.push((iv.chrom.clone(), s, s + spec.length, split));
                    } else {
                        let mut s = iv.start;
                        while s + spec.length <= iv.end.min(chrom_len) {
                            out.push((iv.chrom.clone(), s, s + spec.length, split.clone()));
                            s += spec.stride;
                        }
                    }
                }
            }
        }
        for (chrom, start, end, split) in out {
            let c = p.name_id(chrom);
            let sp = p.split_id(split);
            p.windows.push(PlannedWindow {
                chrom: c,
                start,
                end,
                split: sp,
            });
        }
        Ok(p)
    }

    /// Calls `f` on every window, in sequence then position order (reverse strand right after
    /// its forward window). Each sequence is read once.
    pub fn for_each(&mut self, mut f: impl FnMut(&Window) -> io::Result<()>) -> io::Result<()> {
        let spec = match &self.plan {
            Plan::Fixed(s) | Plan::Intervals(s, _) => s.clone(),
        };
        let planned = self.planned()?;
        let coords = &planned.windows;
        let direct = self.source.prefers_window_fetch();
        // Bases are read in chunks of at least `chunk` bases so the working set stays in cache
        // and a whole chromosome is never held in memory.
        let chunk = self.chunk.max(1);
        let mut buf: Vec<u8> = Vec::new();
        let mut tmp: Vec<u8> = Vec::new();
        let mut w = Window::default();
        let mut i = 0;
        while i < coords.len() {
            let chrom_id = coords[i].chrom;
            let chrom = &planned.names[chrom_id];
            let j = i + coords[i..]
                .iter()
                .take_while(|c| c.chrom == chrom_id)
                .count();
            let hi = coords[i..j].iter().map(|c| c.end).max().unwrap_or(0);
            w.chrom.clone_from(chrom);
            let mut split_id = usize::MAX;
            // buf holds bases [buf_start, buf_end) of this sequence
            buf.clear();
            let (mut buf_start, mut buf_end) = (0u64, 0u64);
            let track_name = self.track.as_ref().map(|t| {
                t.rename
                    .get(chrom)
                    .cloned()
                    .unwrap_or_else(|| chrom.clone())
            });
            for pw in &coords[i..j] {
                let (s, e) = (&pw.start, &pw.end);
                if pw.split != split_id {
                    split_id = pw.split;
                    w.split.clone_from(&planned.splits[split_id]);
                }
                if direct {
                    // cheap random access: the bases go straight into the window
                    self.source.fetch_into(chrom, *s, *e, &mut w.seq)?;
                } else {
                    if *s < buf_start || *s > buf_end {
                        buf.clear();
                        buf_start = *s;
                        buf_end = *s;
                    }
                    if *e > buf_end {
                        buf.drain(..(s - buf_start) as usize);
                        buf_start = *s;
                        let want = (*e).max((buf_end + chunk).min(hi));
                        self.source.fetch_into(chrom, buf_end, want, &mut tmp)?;
                        if buf.is_empty() {
                            // the common case with stride >= length: no copy
                            std::mem::swap(&mut buf, &mut tmp);
                        } else {
                            buf.extend_from_slice(&tmp);
                        }
                        buf_end = want;
                    }
                    w.seq.clear();
                    w.seq.extend_from_slice(
                        &buf[(s - buf_start) as usize..(e - buf_start) as usize],
                    );
                }
                if let NPolicy::SkipAbove(frac) = spec.n_policy {
                    let n = w.seq.iter().filter(|&&b| b == b'N' || b == b'n').count() as f64;
                    if n > frac * w.seq.len() as f64 {
                        self.skipped_n += 1;
                        continue;
                    }
                }
                let strands: &[char] = match spec.strands {
                    Strands::Forward => &['+'],
                    Strands::Reverse => &['-'],
                    Strands::Both => &['+', '-'],
                };
                for &strand in strands {
                    w.start = *s;
                    w.end = *e;
                    w.strand = strand;
                    // w.seq holds the forward bases here (the callback cannot change them)
                    if strand == '-' {
                        reverse_complement(&mut w.seq);
                    }
                    (w.n_count, w.lowercase) = masks_counts(&w.seq, &mut w.softmask, &mut w.nmask);
                    w.track = match (&self.track, &track_name) {
                        (Some(t), Some(tn)) => {
                            let mut v = w.track.take().unwrap_or_default();
                            v.resize((e - s) as usize, f32::NAN);
                            if t.file.chroms().iter().any(|ch| &ch.name == tn) {
                                t.file.fill_values(tn, *s, *e, &mut v)?;
                            } else {
                                v.fill(f32::NAN);
                            }
                            if strand == '-' {
                                v.reverse();
                            }
                            Some(v)
                        }
                        _ => None,
                    };
                    w.labels = match &self.labels {
                        Some(l) => {
                            let mut v = w.labels.take().unwrap_or_default();
                            v.resize((e - s) as usize, 0);
                            l.fill(chrom, *s, &mut v);
                            if strand == '-' {
                                v.reverse();
                            }
                            Some(v)
                        }
                        None => None,
                    };
                    f(&w)?;
                }
            }
            i = j;
        }
        Ok(())
    }
}

fn check_spec(spec: &Spec) -> io::Result<()> {
    if spec.length == 0 || spec.stride == 0 {
        return Err(invalid(
            Error::Windows,
            "window length and stride must be positive",
        ));
    }
    if let NPolicy::SkipAbove(f) = spec.n_policy
        && !(0.0..=1.0).contains(&f)
    {
        return Err(invalid(
            Error::Windows,
            format!("N fraction {f} is not in 0..1"),
        ));
    }
    Ok(())
}

fn split_of(split: &SplitBy, chrom: &str) -> String {
    match split {
        SplitBy::Chromosome { map, default } => {
            map.get(chrom).cloned().unwrap_or_else(|| default.clone())
        }
        SplitBy::Interval => "train".into(),
    }
}

/// Reads a Basenji-style intervals BED (`chrom start end split`) into labelled intervals.
pub fn intervals_from_bed(records: &[crate::bed::Record]) -> io::Result<Vec<LabelledInterval>> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let label = r.name().ok_or_else(|| {
                invalid(
                    Error::Windows,
                    format!(
                        "interval {i} ({}:{}-{}) has no split column",
                        r.chrom, r.start, r.end
                    ),
                )
            })?;
            Ok(LabelledInterval {
                chrom: r.chrom.clone(),
                start: r.start,
                end: r.end,
                label: label.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_a_plain_loop() {
        let seq: Vec<u8> = (0..1000u32)
            .map(|i| b"ACGTNacgtnRYM"[(i * 7 % 13) as usize])
            .collect();
        // lengths around every SIMD width (64, 32, 16 bytes) and the scalar tail
        for len in [
            0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 111, 127, 128, 129, 200,
            513, 1000,
        ] {
            let s = &seq[..len];
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let (n, low) = masks_counts(s, &mut a, &mut b);
            assert_eq!(
                low as usize,
                s.iter().filter(|c| c.is_ascii_lowercase()).count()
            );
            for (i, &c) in s.iter().enumerate() {
                assert_eq!(
                    (a[i / 8] >> (i % 8)) & 1 == 1,
                    c.is_ascii_lowercase(),
                    "{len} {i}"
                );
                assert_eq!(
                    (b[i / 8] >> (i % 8)) & 1 == 1,
                    c == b'N' || c == b'n',
                    "{len} {i}"
                );
            }
            assert_eq!(
                n as usize,
                s.iter().filter(|&&c| c == b'N' || c == b'n').count()
            );
        }
        // bytes that look like 'n' with the high bit or neighbours set must not count
        let tricky = [0xee, b'o', b'm', 0x4e, 0x6e, 0xce, b'N', 0];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        masks(&tricky, &mut a, &mut b);
        assert_eq!(b[0], 0b0101_1000);
    }

    #[test]
    fn reverse_complement_keeps_case_and_n() {
        let mut s = b"ACGTacgtNn".to_vec();
        reverse_complement(&mut s);
        assert_eq!(s, b"nNacgtACGT");
    }
}
