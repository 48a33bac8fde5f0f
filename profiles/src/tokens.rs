//! `bomdata shard --tokens`: canonical text and DNA samples in, token shards out.
//!
//! The same steps as [`crate::build`] (subject split, seeded shuffle, deterministic writer), with
//! a tokenizer and a packer in place of a profile:
//!
//! 1. every canonical sample is assigned to the split it declares (DNA windows of held-out
//!    chromosomes or intervals), else to the split of its subject (never per window);
//! 2. each split's samples are shuffled with the seeded permutation of [`crate::build`];
//! 3. the document of each sample (a text member, see [`document`]) is tokenized (in parallel,
//!    order kept) and fed to a [`Packer`]: documents concatenated and cut every `seq_len`
//!    tokens with their boundaries kept as offsets ([`PackMode::Pack`]), or one document per
//!    padded sequence ([`PackMode::Pad`]);
//! 4. the sequences become samples of `<name>-<split>-NNNNNN.tar`, up to [`BLOCK_TOKENS`] ids
//!    per sample (`max(1, min(2^20, tokens_per_shard) / seq_len)` sequences concatenated; one
//!    per sample in pad mode):
//!    * `input_ids.npy`: `[sequences * seq_len]` ids in the smallest unsigned dtype that holds
//!      the vocabulary (`uint8`, `uint16` or `uint32`, [`min_dtype`]); sequence `k` of the
//!      sample is `input_ids[k * seq_len..(k + 1) * seq_len]`;
//!    * `doc_offsets.npy`: `uint32` segment boundaries `[start, end_0, ..., end]` in
//!      `input_ids` (`cu_seqlens` style; padding lies outside `start..end`); a document that
//!      runs on from one sequence into the next of the same sample is one segment;
//!    * `meta.json`: a [`SequenceMeta`] (source key of each segment, where the segment starts in
//!      its document, whether the first segment continues the previous sample's last one, the
//!      number of sequences).
//!
//! Every stored sequence is `seq_len` long (the last one of pack mode is padded), so a shard of
//! `max(1, tokens_per_shard / (seq_len * sequences per sample))` samples holds at most
//! `tokens_per_shard` ids (`tokens/1`, before, stored one sequence per sample: three tar
//! members per `seq_len` ids).
//! The tokenizer is written beside the shards (`tokenizer/config.json`, the bomdata config that
//! `bomdata_tokenizers::builtin::resolve` reads back, and `tokenizer/tokenizer.json` for a HF
//! tokenizer) and referenced from `manifest.tokenizer` as
//! `{"id", "config_hash", "config", "vocab_size", "dtype", "files", "documents", "tokens"}`.
//! The same input and options give byte-identical output for any number of jobs.
//!
//! Lower case (soft-masked DNA): each DNA tokenizer's treatment of it is probed
//! ([`lowercase_effect`]) and, with the count of lower-case bases, recorded in the summary and
//! in `manifest.tokenizer.lowercase` (`{"effect", "bases", "documents"}`); a tokenizer that
//! refuses it (NT k-mers) is checked against the whole input before anything is written.

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};
use std::path::Path;

use bomdata_schemas::genome::WindowBlock;
use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest, ProfileRecord};
use bomdata_schemas::report::{Outcome, ReportEntry};
use bomdata_tokenizers::pack::{Overflow, PadSide};
use bomdata_tokenizers::{
    PackConfig, PackMode, PackedSequence, Packer, SpecialToken, TokenDtype, Tokenizer,
    TokenizerConfig, min_dtype,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::build::{self, BuildOptions, Located, SPLITS};
use crate::{Error, Result};
use bomdata_shard::npy::{self, Dtype};
use bomdata_shard::writer::{ShardWriter, WriterOptions};
use bomdata_shard::{Member, Sample, dataset};

/// Schema string of [`SequenceMeta`].
pub const SCHEMA: &str = "tokens/2";

pub mod direct;
/// Ids per stored sample in pack mode: `max(1, min(BLOCK_TOKENS, tokens_per_shard) / seq_len)`
/// packed sequences are concatenated into one sample.
pub const BLOCK_TOKENS: usize = 1 << 20;
/// Folder of the tokenizer files in a token dataset.
pub const TOKENIZER_DIR: &str = "tokenizer";
/// The bomdata tokenizer config, relative to the dataset directory.
pub const TOKENIZER_CONFIG: &str = "tokenizer/config.json";
/// The HF `tokenizer.json` (HF tokenizers only), relative to the dataset directory.
pub const HF_TOKENIZER: &str = "tokenizer/tokenizer.json";
/// Member holding the token ids.
pub const INPUT_IDS: &str = "input_ids.npy";
/// Member holding the segment boundaries.
pub const DOC_OFFSETS: &str = "doc_offsets.npy";
/// Members tried, in order, when no field is given (then the only `.txt` member, if one).
pub const DEFAULT_MEMBERS: [&str; 3] = ["seq.txt", "seq.npy", "text.txt"];

/// Options of a token shard build (the split, shuffle, naming and writer options come from
/// [`BuildOptions`]).
#[derive(Clone, Debug)]
pub struct TokenOptions {
    /// The tokenizer.
    pub tokenizer: TokenizerConfig,
    /// Its name in the manifest (a built-in name, or the name of a `tokenizer.json`).
    pub tokenizer_id: String,
    /// The member to tokenize: `<field>.<ext>`, or a field name (`<field>.txt`, else
    /// `<field>.npy`); `None` tries [`DEFAULT_MEMBERS`] and then the only `.txt` member.
    pub field: Option<String>,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Pack documents together (offsets) or pad each one.
    pub mode: PackMode,
    /// Padding side.
    pub pad_side: PadSide,
    /// Pad mode: split long documents over several sequences, or truncate them.
    pub overflow: Overflow,
    /// Padding id; `None` takes the tokenizer's pad token.
    pub pad_id: Option<u32>,
    /// Ids per shard (padding included); at least one sequence per shard.
    pub tokens_per_shard: u64,
}

/// `meta.json` of one token sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceMeta {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The split of the sequence.
    pub split: String,
    /// Canonical sample key of each segment (`doc_offsets` pairs), in order.
    pub keys: Vec<String>,
    /// Position in its document's token sequence where each segment starts (non-zero for a
    /// document continued from an earlier sequence).
    pub doc_starts: Vec<u64>,
    /// Whether the first segment continues the last segment of the previous sequence.
    pub continues: bool,
    /// Real (non-padding) tokens.
    pub n_tokens: u64,
    /// Packed sequences of `seq_len` concatenated in `input_ids` (the last one of a split's
    /// last sample may be padded).
    #[serde(default = "one")]
    pub sequences: u64,
}

fn one() -> u64 {
    1
}

/// What [`build_tokens`] wrote.
#[derive(Clone, Debug)]
pub struct TokenSummary {
    /// The written manifest.
    pub manifest: Manifest,
    /// Documents tokenized.
    pub documents: u64,
    /// Tokens of all documents.
    pub tokens: u64,
    /// Tokens stored (fewer than `tokens` only when pad mode truncates).
    pub stored_tokens: u64,
    /// Packed sequences of `seq_len` stored (several per sample in pack mode).
    pub sequences: u64,
    /// Samples skipped (no text member, or no tokens), listed in `report.jsonl`.
    pub skipped: u64,
    /// Storage dtype of `input_ids`.
    pub dtype: TokenDtype,
    /// Lower-case bases and the tokenizer's effect on them (DNA tokenizers; `None` for a HF
    /// `tokenizer.json`).
    pub lowercase: Option<LowercaseReport>,
}

/// The member of `sample` to tokenize, per [`TokenOptions::field`]; `Ok(None)` when the sample
/// has none, an error when several `.txt` members make the choice ambiguous.
pub fn pick_member<'a>(sample: &'a Sample, field: Option<&str>) -> Result<Option<&'a Member>> {
    match field {
        Some(f) if f.contains('.') => Ok(sample.member(f)),
        Some(f) => Ok(sample
            .member(&format!("{f}.txt"))
            .or_else(|| sample.member(&format!("{f}.npy")))),
        None => {
            if let Some(m) = DEFAULT_MEMBERS.iter().find_map(|n| sample.member(n)) {
                return Ok(Some(m));
            }
            let mut txt = sample.members.iter().filter(|m| m.name.ends_with(".txt"));
            match (txt.next(), txt.next()) {
                (Some(_), Some(_)) => Err(Error::Shard(bomdata_shard::Error::InvalidName {
                    name: sample.key.clone(),
                    reason: "several .txt members: choose one with --tokens-field",
                })),
                (one, _) => Ok(one),
            }
        }
    }
}

/// The bytes of a text member: a `.txt` as stored, a `.npy` of `uint8` (ASCII codes, as the
/// genome adapter's `seq.npy`) flattened.
pub fn member_bytes(m: &Member) -> Result<Cow<'_, [u8]>> {
    if m.name.ends_with(".npy") {
        let v = npy::decode(&m.data)?;
        if v.dtype != Dtype::U8 {
            return Err(Error::Dtype {
                member: m.name.clone(),
                dtype: v.dtype.name(),
                expected: "text (uint8)",
            });
        }
        Ok(Cow::Borrowed(v.data))
    } else {
        Ok(Cow::Borrowed(&m.data))
    }
}

/// The document of a sample: `Ok(None)` when it has no text member.
pub fn document<'a>(sample: &'a Sample, field: Option<&str>) -> Result<Option<Cow<'a, [u8]>>> {
    match pick_member(sample, field)? {
        Some(m) => member_bytes(m).map(Some),
        None => Ok(None),
    }
}

/// The window columns of a `genome/2` block whose sequence member is `m` (`None` for any other
/// sample or member).
fn block_of(sample: &Sample, m: &Member) -> Result<Option<WindowBlock>> {
    if m.name != "seq.txt" && m.name != "seq.npy" {
        return Ok(None);
    }
    let Some(meta) = sample.member("meta.json") else {
        return Ok(None);
    };
    let tag = format!("\"schema\":\"{}\"", bomdata_schemas::genome::VERSION);
    if !meta.data.windows(tag.len()).any(|w| w == tag.as_bytes()) {
        return Ok(None);
    }
    serde_json::from_slice(&meta.data)
        .map(Some)
        .map_err(|source| Error::Json {
            key: sample.key.clone(),
            member: "meta.json".into(),
            source,
        })
}

/// Documents with their keys (`(key, bytes)`).
pub type KeyedDocs<'a> = Vec<(String, &'a [u8])>;

/// The documents of a sample with their keys: one per window of a `genome/2` DNA block
/// (keyed as the window, [`WindowBlock::window_key`]), else the sample's text member as one
/// document. `Ok(None)` when it has no text member.
pub fn documents<'a>(sample: &'a Sample, field: Option<&str>) -> Result<Option<KeyedDocs<'a>>> {
    let Some(m) = pick_member(sample, field)? else {
        return Ok(None);
    };
    let bytes: &'a [u8] = if m.name.ends_with(".npy") {
        let v = npy::decode(&m.data)?;
        if v.dtype != Dtype::U8 {
            return Err(Error::Dtype {
                member: m.name.clone(),
                dtype: v.dtype.name(),
                expected: "text (uint8)",
            });
        }
        v.data
    } else {
        &m.data
    };
    let Some(block) = block_of(sample, m)? else {
        return Ok(Some(vec![(sample.key.clone(), bytes)]));
    };
    let total = block.bases();
    if total != bytes.len() as u64 {
        return Err(Error::BlockBases {
            key: sample.key.clone(),
            windows: total,
            bases: bytes.len() as u64,
        });
    }
    let mut at = 0usize;
    let mut out = Vec::with_capacity(block.windows());
    for (i, &len) in block.lengths.iter().enumerate() {
        let end = at + len as usize;
        let key = WindowBlock::window_key(&sample.key, block.first_index, i as u64);
        out.push((key, &bytes[at..end]));
        at = end;
    }
    Ok(Some(out))
}

/// Reads the ids and boundaries of a token sample back (`input_ids.npy` widened to u32,
/// `doc_offsets.npy`).
pub fn read_sequence(sample: &Sample) -> Result<PackedSequence> {
    let get = |name: &str| {
        sample.member(name).ok_or_else(|| {
            Error::Shard(bomdata_shard::Error::InvalidName {
                name: format!("{}.{name}", sample.key),
                reason: "token sample lacks this member",
            })
        })
    };
    let ids = npy::decode(&get(INPUT_IDS)?.data)?;
    let dtype = match ids.dtype {
        Dtype::U8 => TokenDtype::U8,
        Dtype::U16 => TokenDtype::U16,
        Dtype::U32 => TokenDtype::U32,
        d => {
            return Err(Error::Dtype {
                member: INPUT_IDS.into(),
                dtype: d.name(),
                expected: "u8/u16/u32",
            });
        }
    };
    let ids = dtype
        .from_le_bytes(ids.data)
        .map_err(tok_err("input_ids"))?;
    let offs = npy::decode(&get(DOC_OFFSETS)?.data)?;
    if offs.dtype != Dtype::U32 {
        return Err(Error::Dtype {
            member: DOC_OFFSETS.into(),
            dtype: offs.dtype.name(),
            expected: "uint32",
        });
    }
    let doc_offsets = TokenDtype::U32
        .from_le_bytes(offs.data)
        .map_err(tok_err("doc_offsets"))?;
    let meta: SequenceMeta =
        serde_json::from_slice(&get("meta.json")?.data).map_err(|source| Error::Json {
            key: sample.key.clone(),
            member: "meta.json".into(),
            source,
        })?;
    let n = ids.len() as u32;
    if doc_offsets.len() < 2
        || doc_offsets.windows(2).any(|w| w[0] > w[1])
        || doc_offsets[doc_offsets.len() - 1] > n
    {
        return Err(Error::DocOffsets {
            key: sample.key.clone(),
            tokens: n,
        });
    }
    Ok(PackedSequence {
        ids,
        doc_offsets,
        continues: meta.continues,
    })
}

fn tok_err(what: &'static str) -> impl Fn(bomdata_tokenizers::Error) -> Error {
    move |source| Error::Tokenizer {
        context: what.to_string(),
        source,
    }
}

/// One tokenized canonical sample.
enum Doc {
    Ids {
        key: String,
        subject: Option<String>,
        ids: Vec<u32>,
        /// Lower-case bytes of the document.
        lowercase: u64,
    },
    Skipped {
        key: String,
        reason: String,
    },
}

/// The documents of one canonical sample, tokenized (a DNA block gives one per window).
fn tokenize(loc: &Located, tok: &dyn Tokenizer, field: Option<&str>) -> Result<Vec<Doc>> {
    let sample = build::load(loc)?;
    let Some(docs) = documents(&sample, field)? else {
        let want = field.map_or_else(
            || "a text member (seq.txt, seq.npy, *.txt)".to_string(),
            |f| format!("member {f:?}"),
        );
        return Ok(vec![Doc::Skipped {
            key: sample.key,
            reason: format!("no {want}"),
        }]);
    };
    let name = pick_member(&sample, field)?.map_or("", |m| m.name.as_str());
    docs.into_iter()
        .map(|(key, bytes)| {
            let ids = tok.encode(bytes).map_err(|source| Error::Tokenizer {
                context: format!("tokenizing {key}.{name}"),
                source,
            })?;
            Ok(Doc::Ids {
                key,
                subject: sample.subject.clone(),
                ids,
                lowercase: lowercase_count(bytes),
            })
        })
        .collect()
}

/// A document whose segments are being written.
struct Current {
    key: String,
    subject: Option<String>,
    consumed: u64,
}

/// Turns packed sequences into samples of one split's writer: `per_sample` sequences
/// concatenated per sample (pack mode; one in pad mode).
struct Emitter<'a> {
    name: &'a str,
    split: &'static str,
    dtype: TokenDtype,
    /// Where samples go: a shard writer, else `collected` (the direct path, [`direct`]).
    writer: Option<ShardWriter>,
    collected: Vec<Sample>,
    /// Sequences per sample.
    per_sample: usize,
    /// Documents pushed to the packer whose first segment was not written yet.
    pending: VecDeque<Current>,
    current: Option<Current>,
    /// Samples written.
    index: u64,
    /// Sequences taken.
    sequences: u64,
    stored: u64,
    block: Block,
}

/// The sequences of the sample being filled.
#[derive(Default)]
struct Block {
    sequences: usize,
    /// Room for the `.npy` header (`head` bytes), then the ids as stored (little-endian).
    ids: Vec<u8>,
    /// Length of the header room at the start of `ids`: the header of a full sample, made
    /// when its first sequence comes, so the ids are written once, where they stay.
    head: usize,
    doc_offsets: Vec<u32>,
    keys: Vec<String>,
    starts: Vec<u64>,
    subjects: BTreeSet<Option<String>>,
    continues: bool,
    n_tokens: u64,
}

impl Emitter<'_> {
    /// Adds one packed sequence to the sample being filled; writes it once full.
    fn emit(&mut self, seq: &PackedSequence) -> Result<()> {
        let b = &mut self.block;
        if b.sequences == 0 {
            let full = self.per_sample * seq.ids.len();
            let h = npy::header(npy_dtype(self.dtype), &[full]);
            b.head = h.len();
            b.ids.clear();
            b.ids.reserve(h.len() + full * self.dtype.size());
            b.ids.extend_from_slice(&h);
        }
        let base = (b.ids.len() - b.head) / self.dtype.size();
        let base = u32::try_from(base).map_err(|_| Error::TokenOffsets {
            tokens: base as u64,
        })?;
        if b.sequences == 0 {
            b.continues = seq.continues;
            b.doc_offsets
                .push(seq.doc_offsets.first().copied().unwrap_or(0));
        }
        for (i, seg) in seq.segments().enumerate() {
            let end = base + seq.doc_offsets[i + 1];
            if i == 0 && seq.continues {
                if b.sequences > 0 {
                    // the same document goes on: its segment grows
                    if let Some(last) = b.doc_offsets.last_mut() {
                        *last = end;
                    }
                    if let Some(cur) = self.current.as_mut() {
                        cur.consumed += seg.len() as u64;
                    }
                    continue;
                }
            } else {
                self.current = self.pending.pop_front();
            }
            let cur = self
                .current
                .as_mut()
                .ok_or_else(|| Error::PackerNoDocument)?;
            b.keys.push(cur.key.clone());
            b.starts.push(cur.consumed);
            b.subjects.insert(cur.subject.clone());
            b.doc_offsets.push(end);
            cur.consumed += seg.len() as u64;
        }
        let n_tokens = seq.n_tokens() as u64;
        self.stored += n_tokens;
        b.n_tokens += n_tokens;
        self.dtype
            .extend_le_bytes(&seq.ids, &mut b.ids)
            .map_err(tok_err("input_ids"))?;
        b.sequences += 1;
        self.sequences += 1;
        if b.sequences >= self.per_sample {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the sample being filled (if any sequence is in it).
    fn flush(&mut self) -> Result<()> {
        let b = std::mem::take(&mut self.block);
        if b.sequences == 0 {
            return Ok(());
        }
        let meta = SequenceMeta {
            schema: SCHEMA.into(),
            split: self.split.into(),
            keys: b.keys,
            doc_starts: b.starts,
            continues: b.continues,
            n_tokens: b.n_tokens,
            sequences: b.sequences as u64,
        };
        let key = format!("{}_{}_{:08}", self.name, self.split, self.index);
        self.index += 1;
        let n = (b.ids.len() - b.head) / self.dtype.size();
        // The header of the real length, in place when it fills the room (it does unless a
        // short last sample's length has fewer digits across a 64-byte padding step).
        let h = npy::header(npy_dtype(self.dtype), &[n]);
        let ids = if h.len() == b.head {
            let mut ids = b.ids;
            ids[..h.len()].copy_from_slice(&h);
            ids
        } else {
            npy::encode_raw(npy_dtype(self.dtype), &[n], &b.ids[b.head..])?
        };
        let mut s = Sample::new(key).with(INPUT_IDS, ids).with(
            DOC_OFFSETS,
            npy::encode_u32(&[b.doc_offsets.len()], &b.doc_offsets),
        );
        s.push_json("meta", &meta)?;
        // The subject is recorded only when every segment has the same one.
        if b.subjects.len() == 1 {
            s.subject = b.subjects.into_iter().next().flatten();
        }
        match self.writer.as_mut() {
            Some(w) => Ok(w.write(&s)?),
            None => {
                self.collected.push(s);
                Ok(())
            }
        }
    }
}

/// The `.npy` dtype of stored ids.
fn npy_dtype(dtype: TokenDtype) -> Dtype {
    match dtype {
        TokenDtype::U8 => Dtype::U8,
        TokenDtype::U16 => Dtype::U16,
        TokenDtype::U32 => Dtype::U32,
    }
}

/// How a tokenizer treats lower-case (soft-masked) bases, found by probing it with `acgt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LowercaseEffect {
    /// The tokenizer fails on them (Nucleotide Transformer's k-mers): refused before any output
    /// is written, unless the input has none.
    Refused,
    /// They become the unknown token (HyenaDNA training: `[UNK]`).
    Unknown,
    /// They are upper-cased first (Caduceus pre-training, or `case=upper`).
    UpperCased,
    /// They keep ids of their own (a byte tokenizer).
    Kept,
}

impl LowercaseEffect {
    /// The name recorded in the manifest and the summary.
    pub fn name(self) -> &'static str {
        match self {
            LowercaseEffect::Refused => "refused",
            LowercaseEffect::Unknown => "unk",
            LowercaseEffect::UpperCased => "upper_cased",
            LowercaseEffect::Kept => "kept",
        }
    }
}

/// The effect of a tokenizer on lower-case bases: `acgt` repeated (a multiple of every k-mer
/// size up to 6) against its upper-case form.
pub fn lowercase_effect(tok: &dyn Tokenizer) -> LowercaseEffect {
    const LOWER: &[u8] = b"acgtacgtacgtacgtacgtacgt";
    const UPPER: &[u8] = b"ACGTACGTACGTACGTACGTACGT";
    match (tok.encode(LOWER), tok.encode(UPPER)) {
        (Err(_), _) => LowercaseEffect::Refused,
        (Ok(l), Ok(u)) if l == u => LowercaseEffect::UpperCased,
        (Ok(l), _)
            if tok
                .special_id(SpecialToken::Unk)
                .is_some_and(|unk| l.contains(&unk)) =>
        {
            LowercaseEffect::Unknown
        }
        _ => LowercaseEffect::Kept,
    }
}

/// Lower-case bases of the input and what the tokenizer did with them (DNA tokenizers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowercaseReport {
    /// The tokenizer's treatment of them.
    pub effect: LowercaseEffect,
    /// Lower-case bases in all tokenized documents.
    pub bases: u64,
    /// Documents with at least one.
    pub documents: u64,
}

/// Lower-case ASCII bytes of a document.
fn lowercase_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| b.is_ascii_lowercase()).count() as u64
}

/// Builds token shards from a canonical dataset. See the module docs.
///
/// The input is checked against the tokenizer before anything is written: a tokenizer that
/// refuses lower-case bases on soft-masked input fails with [`Error::LowercaseRefused`] (the
/// way out is `case = "upper"` in its config, `--param case=upper` on the command line). If
/// the build fails later, an output folder it created is removed: no half-written output.
pub fn build_tokens(
    input: &Path,
    out: &Path,
    tok_opts: &TokenOptions,
    opts: &BuildOptions,
) -> Result<TokenSummary> {
    build_tokens_observed(input, out, tok_opts, opts, &crate::progress::Silent)
}

/// [`build_tokens`], reporting its progress to `obs` (one call per canonical document).
pub fn build_tokens_observed(
    input: &Path,
    out: &Path,
    tok_opts: &TokenOptions,
    opts: &BuildOptions,
    obs: &dyn crate::progress::BuildObserver,
) -> Result<TokenSummary> {
    let existed = out.exists();
    let r = build_tokens_in(input, out, tok_opts, opts, obs);
    if r.is_err() && !existed {
        // Best effort: the error being returned is the one to report.
        let _ = std::fs::remove_dir_all(out);
    }
    r
}

/// The tokenizer of a build with its padding id, packing and storage settings.
struct Setup {
    tok: Box<dyn Tokenizer>,
    pack_cfg: PackConfig,
    dtype: TokenDtype,
    per_shard: u64,
    /// Packed sequences per sample.
    per_sample: usize,
    /// The effect on lower-case bases, for the DNA tokenizers (char, k-mer, byte).
    lowercase: Option<LowercaseEffect>,
}

fn cfg_err(tok_opts: &TokenOptions) -> impl Fn(bomdata_tokenizers::Error) -> Error + '_ {
    move |source| Error::Tokenizer {
        context: format!("tokenizer {}", tok_opts.tokenizer_id),
        source,
    }
}

fn setup(tok_opts: &TokenOptions) -> Result<Setup> {
    let tok = tok_opts.tokenizer.build().map_err(cfg_err(tok_opts))?;
    let pad_id = match tok_opts
        .pad_id
        .or_else(|| tok.special_id(SpecialToken::Pad))
    {
        Some(p) => p,
        None => {
            return Err(Error::NoPadToken {
                tokenizer: tok_opts.tokenizer_id.clone(),
            });
        }
    };
    let pack_cfg = PackConfig {
        seq_len: tok_opts.seq_len,
        mode: tok_opts.mode,
        pad_id,
        pad_side: tok_opts.pad_side,
        pad_last: true,
        overflow: tok_opts.overflow,
    };
    // Validates seq_len before any output is written.
    Packer::new(pack_cfg.clone()).map_err(cfg_err(tok_opts))?;
    let dtype = min_dtype(tok.vocab_size());
    let per_sample = match tok_opts.mode {
        PackMode::Pack => {
            let ids = (BLOCK_TOKENS as u64).min(tok_opts.tokens_per_shard) as usize;
            (ids / tok_opts.seq_len).max(1)
        }
        PackMode::Pad => 1,
    };
    let per_shard = (tok_opts.tokens_per_shard / (tok_opts.seq_len * per_sample) as u64).max(1);
    let lowercase = match tok_opts.tokenizer {
        TokenizerConfig::Hf(_) => None,
        _ => Some(lowercase_effect(tok.as_ref())),
    };
    Ok(Setup {
        tok,
        pack_cfg,
        dtype,
        per_shard,
        per_sample,
        lowercase,
    })
}

/// With a tokenizer that refuses lower case: reads every document and fails (before any
/// output exists) when some have lower-case bases, with their count.
fn check_lowercase(
    planned: &build::Planned,
    tok_opts: &TokenOptions,
    pool: &rayon::ThreadPool,
) -> Result<()> {
    let field = tok_opts.field.as_deref();
    let all: Vec<&Located> = planned.by_split.values().flatten().collect();
    let counts: Vec<Result<Vec<(String, u64)>>> = pool.install(|| {
        all.par_iter()
            .map(|loc| {
                let sample = build::load(loc)?;
                Ok(documents(&sample, field)?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(key, d)| (key, lowercase_count(d)))
                    .collect())
            })
            .collect()
    });
    let (mut bases, mut documents, mut first) = (0u64, 0u64, None);
    for c in counts {
        for (key, n) in c? {
            if n > 0 {
                bases += n;
                documents += 1;
                first.get_or_insert(key);
            }
        }
    }
    match first {
        None => Ok(()),
        Some(first) => Err(Error::LowercaseRefused {
            tokenizer: tok_opts.tokenizer_id.clone(),
            bases,
            documents,
            first,
        }),
    }
}

/// What the splits wrote.
#[derive(Default)]
struct Written {
    shards: Vec<bomdata_schemas::manifest::ShardEntry>,
    report: Vec<ReportEntry>,
    documents: u64,
    tokens: u64,
    stored: u64,
    sequences: u64,
    samples: u64,
    lowercase_bases: u64,
    lowercase_documents: u64,
}

/// Tokenizes, packs and writes the samples of one split.
#[allow(clippy::too_many_arguments)]
fn write_split(
    split: &'static str,
    list: &[Located],
    st: &Setup,
    tok_opts: &TokenOptions,
    opts: &BuildOptions,
    out: &Path,
    pool: &rayon::ThreadPool,
    w: &mut Written,
    obs: &dyn crate::progress::BuildObserver,
) -> Result<()> {
    let field = tok_opts.field.as_deref();
    let writer = ShardWriter::create(
        out,
        &format!("{}-{split}", opts.name),
        WriterOptions {
            split: Some(split.to_string()),
            max_samples: st.per_shard,
            ..opts.writer.clone()
        },
    )?;
    let mut em = Emitter {
        name: &opts.name,
        split,
        dtype: st.dtype,
        writer: Some(writer),
        collected: Vec::new(),
        per_sample: st.per_sample,
        pending: VecDeque::new(),
        current: None,
        index: 0,
        sequences: 0,
        stored: 0,
        block: Block::default(),
    };
    let mut packer = Packer::new(st.pack_cfg.clone()).map_err(cfg_err(tok_opts))?;
    let mut seqs = Vec::new();
    let batch = (opts.jobs.max(1) * 32).max(32);
    for chunk in list.chunks(batch) {
        let docs: Vec<Result<Vec<Doc>>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|loc| tokenize(loc, st.tok.as_ref(), field))
                .collect()
        });
        for (ds, loc) in docs.into_iter().zip(chunk) {
            let ds = ds?;
            let done = ds
                .iter()
                .any(|d| matches!(d, Doc::Ids { ids, .. } if !ids.is_empty()));
            obs.sample_done(loc.entry.size, u64::from(done), u64::from(!done));
            for d in ds {
                let (key, subject, ids, lowercase) = match d {
                    Doc::Ids {
                        key,
                        subject,
                        ids,
                        lowercase,
                    } => (key, subject, ids, lowercase),
                    Doc::Skipped { key, reason } => {
                        w.report.push(skipped(&key, reason));
                        continue;
                    }
                };
                if ids.is_empty() {
                    w.report
                        .push(skipped(&key, "empty document: no tokens".into()));
                    continue;
                }
                w.documents += 1;
                w.tokens += ids.len() as u64;
                w.lowercase_bases += lowercase;
                w.lowercase_documents += u64::from(lowercase > 0);
                em.pending.push_back(Current {
                    key,
                    subject,
                    consumed: 0,
                });
                packer.push(&ids, &mut seqs);
                for s in seqs.drain(..) {
                    em.emit(&s)?;
                    packer.recycle(s);
                }
            }
        }
    }
    packer.finish(&mut seqs);
    for s in seqs.drain(..) {
        em.emit(&s)?;
    }
    em.flush()?;
    w.stored += em.stored;
    w.sequences += em.sequences;
    w.samples += em.index;
    if let Some(writer) = em.writer.take() {
        w.shards.extend(writer.finish()?);
    }
    Ok(())
}

fn build_tokens_in(
    input: &Path,
    out: &Path,
    tok_opts: &TokenOptions,
    opts: &BuildOptions,
    obs: &dyn crate::progress::BuildObserver,
) -> Result<TokenSummary> {
    let st = setup(tok_opts)?;
    let mut planned = build::plan(input, opts.seed, &opts.fractions)?;
    let located = planned.by_split.values().flatten();
    obs.planned(
        located.clone().count() as u64,
        located.map(|l| l.entry.size).sum(),
    );
    let pool = build::pool(opts.jobs)?;
    if st.lowercase == Some(LowercaseEffect::Refused) {
        check_lowercase(&planned, tok_opts, &pool)?;
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut w = Written::default();
    for split in SPLITS {
        let Some(mut list) = planned.by_split.remove(split) else {
            continue;
        };
        build::order(&mut list, opts.seed, split);
        write_split(split, &list, &st, tok_opts, opts, out, &pool, &mut w, obs)?;
    }
    if tok_opts.overflow == Overflow::Split && w.stored != w.tokens {
        return Err(Error::TokenCount {
            tokenized: w.tokens,
            stored: w.stored,
        });
    }
    let lowercase = st.lowercase.map(|effect| LowercaseReport {
        effect,
        bases: w.lowercase_bases,
        documents: w.lowercase_documents,
    });
    let m = write_outputs(input, out, tok_opts, opts, &st, &planned, &mut w, lowercase)?;
    Ok(TokenSummary {
        manifest: m,
        documents: w.documents,
        tokens: w.tokens,
        stored_tokens: w.stored,
        sequences: w.sequences,
        skipped: w.report.len() as u64,
        dtype: st.dtype,
        lowercase,
    })
}

/// The tokenizer files of a token dataset, relative to its folder (see the module docs).
fn tokenizer_files(tok_opts: &TokenOptions) -> Vec<&'static str> {
    match &tok_opts.tokenizer {
        TokenizerConfig::Hf(_) => vec![TOKENIZER_CONFIG, HF_TOKENIZER],
        _ => vec![TOKENIZER_CONFIG],
    }
}

/// Writes the tokenizer files into the dataset folder `out` (each atomically).
fn write_tokenizer_files(out: &Path, tok_opts: &TokenOptions) -> Result<()> {
    let tdir = out.join(TOKENIZER_DIR);
    std::fs::create_dir_all(&tdir).map_err(|e| Error::io(&tdir, e))?;
    dataset::write_json_atomic(&out.join(TOKENIZER_CONFIG), &tok_opts.tokenizer)?;
    if let TokenizerConfig::Hf(hf) = &tok_opts.tokenizer {
        dataset::write_json_atomic(&out.join(HF_TOKENIZER), &hf.tokenizer)?;
    }
    Ok(())
}

/// `manifest.tokenizer` without the counts: the tokenizer's reference with its vocabulary
/// size, the ids' dtype and the files.
fn tokenizer_reference(tok_opts: &TokenOptions, st: &Setup) -> Result<serde_json::Value> {
    let mut reference = tok_opts
        .tokenizer
        .reference(&tok_opts.tokenizer_id)
        .map_err(cfg_err(tok_opts))?;
    if let serde_json::Value::Object(m) = &mut reference {
        m.insert("vocab_size".into(), st.tok.vocab_size().into());
        m.insert("dtype".into(), st.dtype.name().into());
        m.insert("files".into(), serde_json::json!(tokenizer_files(tok_opts)));
    }
    Ok(reference)
}

/// Tokenizer files, then tables and report; the manifest last.
#[allow(clippy::too_many_arguments)]
fn write_outputs(
    input: &Path,
    out: &Path,
    tok_opts: &TokenOptions,
    opts: &BuildOptions,
    st: &Setup,
    planned: &build::Planned,
    w: &mut Written,
    lowercase: Option<LowercaseReport>,
) -> Result<Manifest> {
    write_tokenizer_files(out, tok_opts)?;
    let subject_split = &planned.subject_split;
    let tables = build::write_subjects(input, out, subject_split, opts.seed, &opts.fractions)?;
    build::write_report(out, &w.report)?;

    let mut reference = tokenizer_reference(tok_opts, st)?;
    if let serde_json::Value::Object(m) = &mut reference {
        m.insert("documents".into(), w.documents.into());
        m.insert("tokens".into(), w.tokens.into());
        if let Some(l) = lowercase {
            m.insert(
                "lowercase".into(),
                serde_json::json!({
                    "effect": l.effect.name(),
                    "bases": l.bases,
                    "documents": l.documents,
                }),
            );
        }
    }
    let mut params = serde_json::to_value(&st.pack_cfg).map_err(|source| Error::Encode {
        what: "the packing parameters",
        source,
    })?;
    if let serde_json::Value::Object(m) = &mut params {
        let field = tok_opts.field.as_deref();
        m.insert("field".into(), field.unwrap_or("auto").into());
        m.insert("tokens_per_shard".into(), tok_opts.tokens_per_shard.into());
        m.insert(
            "sequences_per_shard".into(),
            (st.per_shard * st.per_sample as u64).into(),
        );
        m.insert("sequences_per_sample".into(), st.per_sample.into());
        m.insert("seed".into(), opts.seed.into());
        m.insert("split_fractions".into(), serde_json::json!(opts.fractions));
    }
    let shards = std::mem::take(&mut w.shards);
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.to_string(),
        kind: DatasetKind::Training,
        tool: format!("bomdata {}", env!("CARGO_PKG_VERSION")),
        sources: planned.manifest.sources.clone(),
        profile: Some(ProfileRecord {
            name: "tokens".into(),
            params,
        }),
        tokenizer: Some(reference),
        counts: Counts {
            samples: w.samples,
            shards: shards.len() as u64,
            bytes: shards.iter().map(|s| s.size).sum(),
            units: planned.manifest.counts.samples,
            failed_units: 0,
            subjects: subject_split.len() as u64,
        },
        shards,
        tables,
    };
    dataset::write_manifest(out, &m)?;
    Ok(m)
}

fn skipped(key: &str, reason: String) -> ReportEntry {
    ReportEntry {
        outcome: Outcome::Skipped,
        unit: key.to_string(),
        path: key.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_choice() {
        let s = Sample::new("k")
            .with("seq.npy", npy::encode_u8(&[3], b"ACG"))
            .with("meta.json", b"{}".to_vec());
        assert_eq!(document(&s, None).unwrap().unwrap().as_ref(), b"ACG");
        assert_eq!(document(&s, Some("seq")).unwrap().unwrap().as_ref(), b"ACG");
        assert!(document(&s, Some("text")).unwrap().is_none());
        assert!(document(&s, Some("meta.json")).unwrap().is_some());
        let t = Sample::new("k").with("note.txt", b"hi".to_vec());
        assert_eq!(document(&t, None).unwrap().unwrap().as_ref(), b"hi");
        let two = t.clone().with("other.txt", b"x".to_vec());
        assert!(document(&two, None).is_err());
        assert_eq!(
            document(&two, Some("other")).unwrap().unwrap().as_ref(),
            b"x"
        );
        let f = Sample::new("k").with("seq.npy", npy::encode_f32(&[1], &[1.0]));
        assert!(document(&f, None).is_err());
    }

    #[test]
    fn sequence_roundtrip() {
        let seq = PackedSequence {
            ids: vec![7, 8, 1, 4],
            doc_offsets: vec![0, 2, 3],
            continues: true,
        };
        let meta = SequenceMeta {
            schema: SCHEMA.into(),
            split: "train".into(),
            keys: vec!["a".into(), "b".into()],
            doc_starts: vec![5, 0],
            continues: true,
            n_tokens: 3,
            sequences: 1,
        };
        let mut s = Sample::new("x")
            .with(INPUT_IDS, npy::encode_u8(&[4], &[7, 8, 1, 4]))
            .with(DOC_OFFSETS, npy::encode_u32(&[3], &seq.doc_offsets));
        s.push_json("meta", &meta).unwrap();
        assert_eq!(read_sequence(&s).unwrap(), seq);
    }
}
