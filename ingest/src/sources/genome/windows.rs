//! DNA windows: fixed length and stride over whole sequences, or inside labelled intervals
//! (a Basenji-style `chrom start end split` BED), with an N-run policy, the sequence kept as
//! stored plus a soft-mask bit mask and an N bit mask, optional reverse complement, train /
//! valid / test assignment with no base in two splits, and per-base bigWig values and interval
//! class labels aligned to each window.
//!
//! Bit masks are packed as [`bomdata_genomic::sequence::masks`] packs them: base `i` is bit
//! `i % 8` of byte `i / 8` (NumPy `np.unpackbits(m, bitorder="little")[:len]`).
//!
//! ```
//! use bomdata_genomic::twobit::{self, TwoBit};
//! use bomdata_ingest::sources::genome::windows::{Plan, Spec, Windower};
//! let tb = TwoBit::from_bytes(twobit::write(&[("c", b"ACGTacgtNNNNACGT")], false, 0).unwrap()).unwrap();
//! let spec = Spec { length: 8, stride: 8, ..Spec::default() };
//! let mut w = Windower::new(tb, Plan::Fixed(spec));
//! let mut got = Vec::new();
//! w.for_each(|win| { got.push((win.start, win.seq.clone(), win.softmask.clone())); Ok(()) }).unwrap();
//! assert_eq!(got[0], (0, b"ACGTacgt".to_vec(), vec![0b1111_0000]));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io;

use bomdata_genomic::bbi::BbiFile;
pub use bomdata_genomic::sequence::SequenceSource;
use bomdata_genomic::sequence::{ComplementTable, masks_counts, reverse_complement_with};

/// What is wrong with a windowing request (returned inside `io::ErrorKind::InvalidData`).
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// A window length or stride of zero.
    #[error("windows: window length and stride must be positive")]
    ZeroGeometry,
    /// An N fraction outside 0..1.
    #[error("windows: N fraction {0} is not in 0..1")]
    NFraction(f64),
    /// [`SplitBy::Interval`] asked of a [`Plan::Fixed`].
    #[error("windows: split by interval needs Plan::Intervals")]
    IntervalSplitWithoutIntervals,
    /// An interval on a sequence the sequence file does not hold.
    #[error("windows: interval on {chrom:?}, which the sequence file lacks")]
    UnknownSequence {
        /// The interval's sequence name.
        chrom: String,
    },
    /// Intervals of two labels overlap.
    #[error(
        "windows: {chrom}:{start}-{end} ({label}) overlaps {chrom}:{prev_start}-{prev_end} ({prev_label}): a base would be in two splits"
    )]
    SplitOverlap {
        /// Sequence name.
        chrom: String,
        /// The later interval.
        start: u64,
        /// Its end.
        end: u64,
        /// Its label.
        label: String,
        /// The run it overlaps.
        prev_start: u64,
        /// Its end.
        prev_end: u64,
        /// Its label.
        prev_label: String,
    },
    /// More label classes than a `u8` class id holds.
    #[error("windows: {0} label classes, at most 255")]
    TooManyClasses(usize),
    /// An intervals BED record without the split column.
    #[error("windows: interval {index} ({chrom}:{start}-{end}) has no split column")]
    NoSplitColumn {
        /// Record ordinal (0-based).
        index: usize,
        /// Sequence name.
        chrom: String,
        /// Start.
        start: u64,
        /// End.
        end: u64,
    },
    /// A read window length or stride of zero.
    #[error("windows: read window length and stride must be positive")]
    ZeroReadGeometry,
    /// A whole-read maximum length of zero.
    #[error("windows: max read length must be positive")]
    ZeroMaxLength,
    /// A read record whose quality string does not match its bases.
    #[error("bam: record {index}: {quals} qualities for {bases} bases")]
    QualityLength {
        /// Record ordinal.
        index: u64,
        /// Number of qualities.
        quals: usize,
        /// Number of bases.
        bases: usize,
    },
}

impl From<WindowError> for io::Error {
    fn from(e: WindowError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
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
    /// Complement table of the reverse strand (default: `ACGTacgt` only, as the models do).
    pub complement: ComplementTable,
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
            complement: ComplementTable::default(),
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
            return Err(WindowError::TooManyClasses(classes.len()).into());
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
    pub fn from_gff(
        classes: Vec<String>,
        features: &[bomdata_genomic::gff::Record],
    ) -> io::Result<Self> {
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
        records: &[bomdata_genomic::bed::Record],
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
                    return Err(WindowError::SplitOverlap {
                        chrom: chrom.clone(),
                        start: s,
                        end: e,
                        label: l,
                        prev_start: last.0,
                        prev_end: last.1,
                        prev_label: last.2.clone(),
                    }
                    .into());
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
                    return Err(WindowError::IntervalSplitWithoutIntervals.into());
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
                        return Err(WindowError::UnknownSequence {
                            chrom: iv.chrom.clone(),
                        }
                        .into());
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
        let chunk = self.chunk.max(1);
        let mut cb = ChunkBuf::default();
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
            cb.reset();
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
                    cb.window(&mut self.source, chrom, (*s, *e), (chunk, hi), &mut w.seq)?;
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
                        reverse_complement_with(&mut w.seq, spec.complement);
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

/// Bases `[start, end)` of the sequence being cut, read in large chunks so the working set stays
/// in cache and a whole chromosome is never held in memory.
#[derive(Default)]
struct ChunkBuf {
    buf: Vec<u8>,
    tmp: Vec<u8>,
    start: u64,
    end: u64,
}

impl ChunkBuf {
    /// Forgets the bases held (a new sequence begins).
    fn reset(&mut self) {
        self.buf.clear();
        (self.start, self.end) = (0, 0);
    }

    /// Copies the window `[s, e)` of `chrom` into `out`; when the chunk held does not reach `e`,
    /// reads on by at least `chunk` bases (never past `hi`, the end of the last window).
    fn window<S: SequenceSource>(
        &mut self,
        source: &mut S,
        chrom: &str,
        (s, e): (u64, u64),
        (chunk, hi): (u64, u64),
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        if s < self.start || s > self.end {
            self.buf.clear();
            self.start = s;
            self.end = s;
        }
        if e > self.end {
            self.buf.drain(..(s - self.start) as usize);
            self.start = s;
            let want = e.max((self.end + chunk).min(hi));
            source.fetch_into(chrom, self.end, want, &mut self.tmp)?;
            if self.buf.is_empty() {
                // the common case with stride >= length: no copy
                std::mem::swap(&mut self.buf, &mut self.tmp);
            } else {
                self.buf.extend_from_slice(&self.tmp);
            }
            self.end = want;
        }
        out.clear();
        out.extend_from_slice(&self.buf[(s - self.start) as usize..(e - self.start) as usize]);
        Ok(())
    }
}

fn check_spec(spec: &Spec) -> io::Result<()> {
    if spec.length == 0 || spec.stride == 0 {
        return Err(WindowError::ZeroGeometry.into());
    }
    if let NPolicy::SkipAbove(f) = spec.n_policy
        && !(0.0..=1.0).contains(&f)
    {
        return Err(WindowError::NFraction(f).into());
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
pub fn intervals_from_bed(
    records: &[bomdata_genomic::bed::Record],
) -> io::Result<Vec<LabelledInterval>> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let label = r.name().ok_or_else(|| WindowError::NoSplitColumn {
                index: i,
                chrom: r.chrom.clone(),
                start: r.start,
                end: r.end,
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
