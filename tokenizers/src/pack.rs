//! Packing token sequences into fixed-length training sequences, and their storage dtype.
//!
//! Two modes ([`PackMode`]):
//!
//! * **pack**: documents are concatenated into one stream cut every `seq_len` tokens; document
//!   boundaries inside each sequence are kept as offsets, and a document may continue into the
//!   next sequence ([`PackedSequence::continues`]). Only the last sequence can be short
//!   (padded if `pad_last`).
//! * **pad**: each document starts a new sequence, padded to `seq_len`; a longer document is
//!   split over several sequences (or truncated, with [`Overflow::Truncate`]).
//!
//! Offsets are cumulative (flash-attention `cu_seqlens` style) positions in `ids`: the first is
//! where real tokens start, the last where they end; consecutive pairs delimit one document
//! segment. Empty documents are skipped. [`unpack`] reverses [`pack`] exactly (for non-empty
//! documents, without truncation), and the sum of [`PackedSequence::n_tokens`] equals the total
//! input token count.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How documents are laid into sequences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackMode {
    /// Concatenate documents; boundaries recorded as offsets.
    #[default]
    Pack,
    /// One document (or piece of one) per sequence, padded.
    Pad,
}

/// Where padding goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadSide {
    /// After the tokens.
    #[default]
    Right,
    /// Before the tokens (HyenaDNA's `padding_side='left'`).
    Left,
}

/// What [`PackMode::Pad`] does with a document longer than `seq_len`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Continue it in further sequences.
    #[default]
    Split,
    /// Keep the first `seq_len` tokens only (the token count then drops).
    Truncate,
}

/// Packing settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackConfig {
    /// Tokens per sequence (> 0).
    pub seq_len: usize,
    /// Pack or pad.
    pub mode: PackMode,
    /// Padding id (the tokenizer's pad, e.g. `Tokenizer::special_id(SpecialToken::Pad)`).
    pub pad_id: u32,
    /// Padding side.
    #[serde(default)]
    pub pad_side: PadSide,
    /// In pack mode, pad the final short sequence to `seq_len` (else it stays short).
    #[serde(default)]
    pub pad_last: bool,
    /// Long documents in pad mode.
    #[serde(default)]
    pub overflow: Overflow,
}

impl PackConfig {
    /// Pack mode, right padding of the last sequence.
    pub fn packed(seq_len: usize, pad_id: u32) -> Self {
        Self {
            seq_len,
            mode: PackMode::Pack,
            pad_id,
            pad_side: PadSide::Right,
            pad_last: true,
            overflow: Overflow::Split,
        }
    }

    /// Pad mode, right padding, long documents split.
    pub fn padded(seq_len: usize, pad_id: u32) -> Self {
        Self {
            mode: PackMode::Pad,
            ..Self::packed(seq_len, pad_id)
        }
    }
}

/// One training sequence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedSequence {
    /// Token ids, `seq_len` long (except an unpadded last sequence in pack mode).
    pub ids: Vec<u32>,
    /// Segment boundaries in `ids`: `[start, end_0, end_1, ..., end]`, at least two entries.
    pub doc_offsets: Vec<u32>,
    /// Whether the first segment continues a document begun in the previous sequence.
    pub continues: bool,
}

impl PackedSequence {
    /// Number of real (non-padding) tokens.
    pub fn n_tokens(&self) -> usize {
        match (self.doc_offsets.first(), self.doc_offsets.last()) {
            (Some(&a), Some(&b)) => (b - a) as usize,
            _ => 0,
        }
    }

    /// The document segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &[u32]> {
        self.doc_offsets
            .windows(2)
            .map(|w| &self.ids[w[0] as usize..w[1] as usize])
    }

    /// A 0/1 mask of real tokens (the attention mask).
    pub fn attention_mask(&self) -> Vec<u8> {
        let (a, b) = match (self.doc_offsets.first(), self.doc_offsets.last()) {
            (Some(&a), Some(&b)) => (a as usize, b as usize),
            _ => (0, 0),
        };
        (0..self.ids.len())
            .map(|i| u8::from(i >= a && i < b))
            .collect()
    }
}

/// Streaming packer: feed documents with [`Packer::push`], collect with [`Packer::finish`].
#[derive(Clone, Debug)]
pub struct Packer {
    cfg: PackConfig,
    cur: Vec<u32>,
    offsets: Vec<u32>,
    continues: bool,
    /// Buffers of a sequence given back with [`Packer::recycle`], for the next one.
    spare: Option<(Vec<u32>, Vec<u32>)>,
}

impl Packer {
    /// A packer; `seq_len` must be positive and fit u32.
    pub fn new(cfg: PackConfig) -> Result<Self> {
        if cfg.seq_len == 0 || u32::try_from(cfg.seq_len).is_err() {
            return Err(Error::InvalidConfig(format!(
                "pack: seq_len {} must be in 1..=u32::MAX",
                cfg.seq_len
            )));
        }
        Ok(Self {
            cur: Vec::with_capacity(cfg.seq_len),
            offsets: vec![0],
            continues: false,
            spare: None,
            cfg,
        })
    }

    /// Gives back a sequence this packer made, once done with it: its buffers serve the next
    /// sequence (no allocation per sequence in a long run).
    pub fn recycle(&mut self, seq: PackedSequence) {
        self.spare = Some((seq.ids, seq.doc_offsets));
    }

    /// Adds one document; completed sequences are appended to `out`.
    pub fn push(&mut self, doc: &[u32], out: &mut Vec<PackedSequence>) {
        let n = self.cfg.seq_len;
        match self.cfg.mode {
            PackMode::Pack => {
                let mut rest = doc;
                let mut first = true;
                while !rest.is_empty() {
                    if self.cur.is_empty() && !first {
                        self.continues = true;
                    }
                    let take = (n - self.cur.len()).min(rest.len());
                    self.cur.extend_from_slice(&rest[..take]);
                    self.offsets.push(self.cur.len() as u32);
                    rest = &rest[take..];
                    first = false;
                    if self.cur.len() == n {
                        out.push(self.emit(false));
                    }
                }
            }
            PackMode::Pad => {
                for (i, chunk) in doc.chunks(n).enumerate() {
                    if i > 0 && self.cfg.overflow == Overflow::Truncate {
                        break;
                    }
                    self.cur.extend_from_slice(chunk);
                    self.offsets.push(chunk.len() as u32);
                    self.continues = i > 0;
                    out.push(self.emit(true));
                }
            }
        }
    }

    /// Flushes the last, partial sequence (pack mode).
    pub fn finish(mut self, out: &mut Vec<PackedSequence>) {
        if !self.cur.is_empty() {
            let pad = self.cfg.pad_last;
            out.push(self.emit(pad));
        }
    }

    fn emit(&mut self, pad: bool) -> PackedSequence {
        let (mut next, mut next_offsets) = self
            .spare
            .take()
            .unwrap_or_else(|| (Vec::with_capacity(self.cfg.seq_len), Vec::new()));
        next.clear();
        next_offsets.clear();
        next_offsets.push(0);
        let mut ids = std::mem::replace(&mut self.cur, next);
        let mut offsets = std::mem::replace(&mut self.offsets, next_offsets);
        let continues = std::mem::take(&mut self.continues);
        let missing = self.cfg.seq_len - ids.len();
        if pad && missing > 0 {
            match self.cfg.pad_side {
                PadSide::Right => ids.resize(self.cfg.seq_len, self.cfg.pad_id),
                PadSide::Left => {
                    ids.splice(0..0, std::iter::repeat_n(self.cfg.pad_id, missing));
                    for o in &mut offsets {
                        *o += missing as u32;
                    }
                }
            }
        }
        PackedSequence {
            ids,
            doc_offsets: offsets,
            continues,
        }
    }
}

/// Packs documents (token id sequences) by `cfg`. See the module docs.
pub fn pack<I, D>(docs: I, cfg: &PackConfig) -> Result<Vec<PackedSequence>>
where
    I: IntoIterator<Item = D>,
    D: AsRef<[u32]>,
{
    let mut packer = Packer::new(cfg.clone())?;
    let mut out = Vec::new();
    for doc in docs {
        packer.push(doc.as_ref(), &mut out);
    }
    packer.finish(&mut out);
    Ok(out)
}

/// Reassembles the documents from packed sequences (inverse of [`pack`]).
pub fn unpack(seqs: &[PackedSequence]) -> Vec<Vec<u32>> {
    let mut docs: Vec<Vec<u32>> = Vec::new();
    for seq in seqs {
        for (i, seg) in seq.segments().enumerate() {
            match docs.last_mut() {
                Some(last) if i == 0 && seq.continues => last.extend_from_slice(seg),
                _ => docs.push(seg.to_vec()),
            }
        }
    }
    docs
}

/// Groups consecutive sequences into shards of at most `tokens_per_shard` stored ids
/// (padding included), greedily; a shard always takes at least one sequence. Returns index
/// ranges into `seqs`.
pub fn split_by_token_budget(
    seqs: &[PackedSequence],
    tokens_per_shard: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, seq) in seqs.iter().enumerate() {
        let n = seq.ids.len();
        if i > start && used + n > tokens_per_shard {
            out.push(start..i);
            start = i;
            used = 0;
        }
        used += n;
    }
    if start < seqs.len() {
        out.push(start..seqs.len());
    }
    out
}

/// Unsigned integer storage type for token ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenDtype {
    /// 1 byte, vocabularies up to 256.
    U8,
    /// 2 bytes, up to 65,536.
    U16,
    /// 4 bytes.
    U32,
}

/// The smallest unsigned dtype that holds every id of a vocabulary of `vocab_size` ids.
pub fn min_dtype(vocab_size: usize) -> TokenDtype {
    if vocab_size <= 1 << 8 {
        TokenDtype::U8
    } else if vocab_size <= 1 << 16 {
        TokenDtype::U16
    } else {
        TokenDtype::U32
    }
}

/// Token ids narrowed to a [`TokenDtype`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenIds {
    /// u8 ids.
    U8(Vec<u8>),
    /// u16 ids.
    U16(Vec<u16>),
    /// u32 ids.
    U32(Vec<u32>),
}

impl TokenDtype {
    /// Name as in numpy (`uint8`...): `u8`, `u16`, `u32`.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::U16 => "u16",
            Self::U32 => "u32",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }

    /// The `.npy` descr string (`|u1`, `<u2`, `<u4`).
    pub fn npy_descr(self) -> &'static str {
        match self {
            Self::U8 => "|u1",
            Self::U16 => "<u2",
            Self::U32 => "<u4",
        }
    }

    fn max(self) -> u32 {
        match self {
            Self::U8 => u8::MAX.into(),
            Self::U16 => u16::MAX.into(),
            Self::U32 => u32::MAX,
        }
    }

    fn check(self, ids: &[u32]) -> Result<()> {
        let max = self.max();
        match ids.iter().position(|&id| id > max) {
            Some(index) => Err(Error::IdOutOfRange {
                id: ids[index],
                index,
                dtype: self.name(),
            }),
            None => Ok(()),
        }
    }

    /// Narrows `ids` to this dtype, failing on an id that does not fit.
    pub fn narrow(self, ids: &[u32]) -> Result<TokenIds> {
        self.check(ids)?;
        Ok(match self {
            Self::U8 => TokenIds::U8(ids.iter().map(|&i| i as u8).collect()),
            Self::U16 => TokenIds::U16(ids.iter().map(|&i| i as u16).collect()),
            Self::U32 => TokenIds::U32(ids.to_vec()),
        })
    }

    /// Little-endian bytes of `ids` in this dtype.
    pub fn to_le_bytes(self, ids: &[u32]) -> Result<Vec<u8>> {
        self.check(ids)?;
        let mut out = Vec::with_capacity(ids.len() * self.size());
        for &id in ids {
            out.extend_from_slice(&id.to_le_bytes()[..self.size()]);
        }
        Ok(out)
    }

    /// Appends the little-endian bytes of `ids` to `out` (errors as [`Self::to_le_bytes`]).
    pub fn extend_le_bytes(self, ids: &[u32], out: &mut Vec<u8>) -> Result<()> {
        self.check(ids)?;
        match self {
            Self::U8 => out.extend(ids.iter().map(|&id| id as u8)),
            Self::U16 => out.extend(ids.iter().flat_map(|&id| (id as u16).to_le_bytes())),
            Self::U32 => out.extend(ids.iter().flat_map(|&id| id.to_le_bytes())),
        }
        Ok(())
    }

    /// Ids from little-endian bytes of this dtype.
    pub fn from_le_bytes(self, bytes: &[u8]) -> Result<Vec<u32>> {
        let size = self.size();
        if !bytes.len().is_multiple_of(size) {
            return Err(Error::RaggedBytes {
                len: bytes.len(),
                dtype: self.name(),
            });
        }
        Ok(bytes
            .chunks_exact(size)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..size].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect())
    }
}

impl TokenIds {
    /// Widens back to u32.
    pub fn to_u32(&self) -> Vec<u32> {
        match self {
            Self::U8(v) => v.iter().map(|&i| i.into()).collect(),
            Self::U16(v) => v.iter().map(|&i| i.into()).collect(),
            Self::U32(v) => v.clone(),
        }
    }

    /// The dtype.
    pub fn dtype(&self) -> TokenDtype {
        match self {
            Self::U8(_) => TokenDtype::U8,
            Self::U16(_) => TokenDtype::U16,
            Self::U32(_) => TokenDtype::U32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<Vec<u32>> {
        vec![
            (1..=5).collect(),
            vec![10],
            vec![],
            (20..33).collect(),
            vec![40, 41],
        ]
    }

    fn nonempty() -> Vec<Vec<u32>> {
        docs().into_iter().filter(|d| !d.is_empty()).collect()
    }

    #[test]
    fn pack_mode_roundtrip() {
        for pad_last in [false, true] {
            for side in [PadSide::Right, PadSide::Left] {
                let cfg = PackConfig {
                    pad_last,
                    pad_side: side,
                    ..PackConfig::packed(4, 0)
                };
                let seqs = pack(docs(), &cfg).unwrap();
                let total: usize = seqs.iter().map(PackedSequence::n_tokens).sum();
                assert_eq!(total, 21);
                assert_eq!(seqs.len(), 6);
                assert!(seqs[..5].iter().all(|s| s.ids.len() == 4));
                assert_eq!(seqs[5].ids.len(), if pad_last { 4 } else { 1 });
                assert_eq!(unpack(&seqs), nonempty());
            }
        }
        let seqs = pack(docs(), &PackConfig::packed(4, 0)).unwrap();
        assert_eq!(seqs[0].ids, [1, 2, 3, 4]);
        assert_eq!(seqs[1].ids, [5, 10, 20, 21]);
        assert_eq!(seqs[1].doc_offsets, [0, 1, 2, 4]);
        assert!(seqs[1].continues);
        assert_eq!(seqs[5].ids, [41, 0, 0, 0]);
        assert_eq!(seqs[5].attention_mask(), [1, 0, 0, 0]);
    }

    #[test]
    fn pad_mode() {
        let cfg = PackConfig {
            pad_side: PadSide::Left,
            ..PackConfig::padded(8, 4)
        };
        let seqs = pack(docs(), &cfg).unwrap();
        assert_eq!(seqs.len(), 5);
        assert_eq!(seqs[1].ids, [4, 4, 4, 4, 4, 4, 4, 10]);
        assert_eq!(seqs[1].doc_offsets, [7, 8]);
        assert!(seqs[3].continues);
        assert_eq!(unpack(&seqs), nonempty());
        let trunc = PackConfig {
            overflow: Overflow::Truncate,
            ..PackConfig::padded(8, 4)
        };
        let seqs = pack(docs(), &trunc).unwrap();
        assert_eq!(seqs.len(), 4);
        assert_eq!(seqs.iter().map(PackedSequence::n_tokens).sum::<usize>(), 16);
        assert!(pack(docs(), &PackConfig::padded(0, 0)).is_err());
    }

    #[test]
    fn token_budget() {
        let seqs = pack(docs(), &PackConfig::packed(4, 0)).unwrap();
        assert_eq!(split_by_token_budget(&seqs, 8), [0..2, 2..4, 4..6]);
        assert_eq!(split_by_token_budget(&seqs, 9), [0..2, 2..4, 4..6]);
        assert_eq!(
            split_by_token_budget(&seqs, 1),
            [0..1, 1..2, 2..3, 3..4, 4..5, 5..6]
        );
        assert_eq!(split_by_token_budget(&seqs, 1000), vec![(0..6)]);
        assert!(split_by_token_budget(&[], 8).is_empty());
    }

    #[test]
    fn dtypes() {
        assert_eq!(min_dtype(12), TokenDtype::U8);
        assert_eq!(min_dtype(256), TokenDtype::U8);
        assert_eq!(min_dtype(257), TokenDtype::U16);
        assert_eq!(min_dtype(4107), TokenDtype::U16);
        assert_eq!(min_dtype(65_537), TokenDtype::U32);
        let ids = [0, 255, 7];
        let n = TokenDtype::U8.narrow(&ids).unwrap();
        assert_eq!(n, TokenIds::U8(vec![0, 255, 7]));
        assert_eq!(n.to_u32(), ids);
        assert!(matches!(
            TokenDtype::U8.narrow(&[1, 256]),
            Err(Error::IdOutOfRange { index: 1, .. })
        ));
        let bytes = TokenDtype::U16.to_le_bytes(&[1, 4106]).unwrap();
        assert_eq!(bytes, [1, 0, 0x0A, 0x10]);
        assert_eq!(TokenDtype::U16.from_le_bytes(&bytes).unwrap(), [1, 4106]);
        assert!(TokenDtype::U16.from_le_bytes(&[1]).is_err());
    }
}
