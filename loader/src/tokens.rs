//! Token datasets (`bomdata shard --tokens` output): documents in, packed sequences or
//! token-budget batches out, in the FlashAttention "varlen" convention.
//!
//! A token dataset stores packed sequences, several per sample (`tokens/2`): `input_ids.npy`
//! (1-D, `sequences * seq_len` ids, uint8/16/32), `doc_offsets.npy` (uint32 segment boundaries
//! `[start, end_0, ..., end]`) and `meta.json` (`continues`: the first segment continues the
//! previous sample's last document). Any 1-D length is read (`tokens/1`: one sequence per
//! sample). Opening
//! ([`TokenPlanner::new`]) reads those small members of every selected sample and joins the
//! segments back into *documents* (a document cut over several stored sequences is one
//! document again).
//!
//! An epoch's order is a seeded permutation of the documents (a pure function of
//! `(seed, epoch)` and the selection); the documents are then cut into *units*:
//!
//! - [`TokenMode::Packed`]: documents concatenated in that order and cut every `seq_len`
//!   tokens; a unit is one sequence, a batch is `batch_size` of them (`input_ids` is
//!   `[rows, seq_len]`; only the epoch's last sequence is padded, with `pad_id`);
//! - [`TokenMode::Budget`]: documents packed whole into batches of at most `max_tokens`
//!   tokens (a document is never split: one longer than `max_tokens` is an error, or with
//!   `split_long` it is cut into chunks of `max_tokens`, each packed as a document); a unit is
//!   one batch.
//!
//! Every batch carries `cu_seqlens` (int32, `[0, len_1, len_1 + len_2, ...]` over the
//! flattened `input_ids`, one entry per document piece) and `position_ids` (restarting at 0 at
//! every piece; 0 on padding). Units are split between ranks and resumed exactly like the
//! sample loader's ([`crate::Partition`], [`crate::LoaderState`]): every document (every token
//! of it) is read exactly once per epoch across ranks, with any world size, also after a
//! resume on another one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use bomdata_shard::member;
use bomdata_shard::npy::{self, Dtype};

use crate::dataset::SampleLoc;
use crate::partition::{Partition, Remaining};
use crate::plan::Mixture;
use crate::rng::Rng;
use crate::state::LoaderState;
use crate::{Error, Result};

/// Member holding the token ids.
pub const INPUT_IDS: &str = "input_ids.npy";
/// Member holding the segment boundaries.
pub const DOC_OFFSETS: &str = "doc_offsets.npy";

/// How documents become batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenMode {
    /// Fixed-length sequences of `seq_len` tokens, `batch_size` per batch.
    Packed,
    /// Batches of whole documents, at most `max_tokens` tokens each.
    #[default]
    Budget,
}

/// Options of token batches: plain data (serde, every field defaulted).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TokenOptions {
    /// Packed sequences or token-budget batches.
    pub mode: TokenMode,
    /// With the epoch, fixes the document order.
    pub seed: u64,
    /// Permute documents each epoch (else dataset, shard and index order).
    pub shuffle: bool,
    /// Packed: tokens per sequence.
    pub seq_len: usize,
    /// Packed: sequences per batch.
    pub batch_size: usize,
    /// Budget: at most this many tokens per batch.
    pub max_tokens: usize,
    /// Budget: cut documents longer than `max_tokens` into chunks of `max_tokens` (each packed
    /// as a document, `position_ids` restarting); else such a document is an error.
    pub split_long: bool,
    /// Packed: the id of padding tokens (the epoch's last sequence).
    pub pad_id: i64,
    /// Drop this rank's last short batch (packed mode: fewer than `batch_size` sequences).
    pub drop_last: bool,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            mode: TokenMode::Budget,
            seed: 0,
            shuffle: true,
            seq_len: 2048,
            batch_size: 1,
            max_tokens: 8192,
            split_long: false,
            pad_id: 0,
            drop_last: false,
        }
    }
}

/// A contiguous run of one document's tokens in one stored sequence.
#[derive(Clone, Copy, Debug)]
struct Piece {
    dataset: u16,
    loc: SampleLoc,
    /// Token range in the stored sequence.
    start: u32,
    end: u32,
}

/// A document number and a token range of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Document number ([`TokenPlanner::documents`] order).
    pub doc: u32,
    /// First token (in the document).
    pub from: u64,
    /// One past the last token.
    pub to: u64,
}

/// The units of one epoch: each a list of spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPlan {
    /// The epoch.
    pub epoch: u64,
    spans: Vec<Span>,
    starts: Vec<usize>,
}

impl TokenPlan {
    /// Number of units.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// True when the epoch has no units.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The spans of unit `u`.
    pub fn unit(&self, u: usize) -> &[Span] {
        &self.spans[self.starts[u]..self.starts[u + 1]]
    }

    fn push_unit(&mut self, spans: &mut Vec<Span>) {
        self.spans.append(spans);
        self.starts.push(self.spans.len());
    }
}

/// The documents of token datasets and their epoch plans.
#[derive(Debug)]
pub struct TokenPlanner {
    mixture: Mixture,
    opts: TokenOptions,
    pieces: Vec<Piece>,
    /// Per document: first piece (and one past the last document's last piece).
    doc_pieces: Vec<usize>,
    /// Per document: token count.
    doc_len: Vec<u64>,
    /// Per document: its sample key (from `meta.json` `keys`; empty when absent).
    doc_keys: Vec<String>,
    fingerprint: u64,
}

const TAG_DOCS: u64 = 0x444f_4353;

impl TokenPlanner {
    /// Reads the documents of every selected sample of the mixture's datasets (token datasets;
    /// every dataset's documents once per epoch: mixture weights do not apply).
    pub fn new(mixture: Mixture, opts: TokenOptions) -> Result<TokenPlanner> {
        match opts.mode {
            TokenMode::Packed if opts.seq_len == 0 || opts.batch_size == 0 => {
                return Err(Error::config(
                    "packed tokens need seq_len and batch_size >= 1",
                ));
            }
            TokenMode::Budget if opts.max_tokens == 0 => {
                return Err(Error::config("token batches need max_tokens >= 1"));
            }
            _ => {}
        }
        crate::selection::check_mixture(&mixture)?;
        let mut p = TokenPlanner {
            mixture,
            opts,
            pieces: Vec::new(),
            doc_pieces: Vec::new(),
            doc_len: Vec::new(),
            doc_keys: Vec::new(),
            fingerprint: 0,
        };
        for d in 0..p.mixture.datasets().len() {
            p.read_documents(d)?;
        }
        p.doc_pieces.push(p.pieces.len());
        let o = &p.opts;
        let total: u64 = p.doc_len.iter().sum();
        p.fingerprint = Rng::new(&[
            o.seed,
            TAG_DOCS,
            p.doc_len.len() as u64,
            total,
            o.mode as u64,
            o.seq_len as u64,
            o.batch_size as u64,
            o.max_tokens as u64,
            u64::from(o.split_long),
            u64::from(o.shuffle),
        ])
        .next_u64();
        Ok(p)
    }

    fn read_documents(&mut self, d: usize) -> Result<()> {
        let ds = self.mixture.datasets()[d].clone();
        let mut open = false; // the last document may continue into the next sequence
        for info in ds.infos() {
            let path = || ds.root().join(&info.shard.name);
            let bad =
                |msg: String| Error::corrupt(path(), format!("sample {:?}: {msg}", info.key()));
            let name_of = |logical: &str| {
                info.sample
                    .members
                    .iter()
                    .find(|m| member::logical_name(&m.name).0 == logical)
                    .map(|m| m.name.clone())
                    .ok_or_else(|| bad(format!("no {logical} member: not a token dataset")))
            };
            let ids = info.member(&name_of(INPUT_IDS)?)?;
            let ids = npy::decode(&ids).map_err(|e| bad(e.to_string()))?;
            let len = match (ids.dtype, ids.shape.as_slice()) {
                (Dtype::U8 | Dtype::U16 | Dtype::U32, [n]) => *n as u64,
                (d, s) => return Err(bad(format!("input_ids is {} {s:?}", d.name()))),
            };
            let offs = info.member(&name_of(DOC_OFFSETS)?)?;
            let offs = npy::decode(&offs).map_err(|e| bad(e.to_string()))?;
            if offs.dtype != Dtype::U32 || offs.shape.len() != 1 {
                return Err(bad(format!(
                    "doc_offsets is {} {:?}",
                    offs.dtype.name(),
                    offs.shape
                )));
            }
            let offs: Vec<u32> = offs
                .data
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if offs.windows(2).any(|w| w[0] > w[1])
                || offs.last().is_some_and(|&e| u64::from(e) > len)
            {
                return Err(bad(format!("doc_offsets {offs:?} do not fit {len} ids")));
            }
            let meta = info.meta()?;
            let continues = meta.get("continues").and_then(|v| v.as_bool()) == Some(true);
            let key = |j: usize| {
                meta.get("keys")
                    .and_then(|k| k.get(j))
                    .and_then(|k| k.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            for (j, w) in offs.windows(2).enumerate() {
                let piece = Piece {
                    dataset: d as u16,
                    loc: info.loc,
                    start: w[0],
                    end: w[1],
                };
                let joins = j == 0 && continues && open && self.doc_keys.last() == Some(&key(0));
                if !joins {
                    self.doc_pieces.push(self.pieces.len());
                    self.doc_len.push(0);
                    self.doc_keys.push(key(j));
                }
                self.pieces.push(piece);
                if let Some(l) = self.doc_len.last_mut() {
                    *l += u64::from(w[1] - w[0]);
                }
            }
            open = offs.len() >= 2;
        }
        Ok(())
    }

    /// The options.
    pub fn options(&self) -> &TokenOptions {
        &self.opts
    }

    /// The mixture.
    pub fn mixture(&self) -> &Mixture {
        &self.mixture
    }

    /// Number of documents.
    pub fn documents(&self) -> usize {
        self.doc_len.len()
    }

    /// Token count of document `doc`.
    pub fn document_len(&self, doc: u32) -> u64 {
        self.doc_len.get(doc as usize).copied().unwrap_or(0)
    }

    /// The sample key of document `doc` (as in the canonical dataset; `""` when unknown).
    pub fn document_key(&self, doc: u32) -> &str {
        self.doc_keys.get(doc as usize).map_or("", String::as_str)
    }

    /// Identifies the seed, documents and options; stored in the loader state.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The document order of `epoch`.
    pub fn document_order(&self, epoch: u64) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.doc_len.len() as u32).collect();
        if self.opts.shuffle {
            Rng::new(&[self.opts.seed, epoch, TAG_DOCS]).shuffle(&mut order);
        }
        order
    }

    /// The units of `epoch`.
    pub fn epoch(&self, epoch: u64) -> Result<TokenPlan> {
        let mut plan = TokenPlan {
            epoch,
            spans: Vec::new(),
            starts: vec![0],
        };
        let mut cur: Vec<Span> = Vec::new();
        let mut used = 0u64;
        let o = &self.opts;
        for doc in self.document_order(epoch) {
            let len = self.doc_len[doc as usize];
            if o.mode == TokenMode::Packed {
                let cap = o.seq_len as u64;
                let mut from = 0;
                while from < len {
                    let take = (len - from).min(cap - used);
                    cur.push(Span {
                        doc,
                        from,
                        to: from + take,
                    });
                    (from, used) = (from + take, used + take);
                    if used == cap {
                        plan.push_unit(&mut cur);
                        used = 0;
                    }
                }
                continue;
            }
            let cap = o.max_tokens as u64;
            if len > cap && !o.split_long {
                return Err(Error::config(format!(
                    "document {doc} has {len} tokens, more than max_tokens = {cap}: raise max_tokens or set TokenOptions::split_long"
                )));
            }
            let mut from = 0;
            while from < len.max(1) {
                let take = (len - from).min(cap);
                if used + take > cap && !cur.is_empty() {
                    plan.push_unit(&mut cur);
                    used = 0;
                }
                cur.push(Span {
                    doc,
                    from,
                    to: from + take,
                });
                (from, used) = (from + take.max(1), used + take);
            }
        }
        if !cur.is_empty() {
            plan.push_unit(&mut cur);
        }
        Ok(plan)
    }
}

/// One batch of tokens, flattened (`rows * seq_len` for packed sequences, the documents'
/// tokens for a token-budget batch).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TokenBatch {
    /// The epoch.
    pub epoch: u64,
    /// Batch number within this rank's epoch (from the resume point).
    pub index: usize,
    /// Rows (packed: sequences; budget: 1).
    pub rows: usize,
    /// Tokens per row (packed: `seq_len`; budget: the batch's token count).
    pub seq_len: usize,
    /// The ids, `rows * seq_len`.
    pub input_ids: Vec<i64>,
    /// Position of each token in its document piece (0 on padding).
    pub position_ids: Vec<i64>,
    /// `[0, len_1, len_1 + len_2, ...]`: where each piece starts in `input_ids` (FlashAttention
    /// varlen); padding lies after the last entry.
    pub cu_seqlens: Vec<i32>,
    /// The longest piece.
    pub max_seqlen: i32,
    /// The document range each piece holds (`cu_seqlens` order).
    pub spans: Vec<Span>,
    /// Global plan positions of the batch's units.
    pub positions: Vec<u64>,
}

/// Streams token batches of this rank's share of each epoch: built on the caller's thread, or
/// read ahead by reader threads ([`TokenLoader::with_threads`]) in the same order.
#[derive(Debug)]
pub struct TokenLoader {
    planner: Arc<TokenPlanner>,
    part: Partition,
    state: LoaderState,
    threads: usize,
    prefetch: usize,
}

impl TokenLoader {
    /// A loader for `part`, at the start of epoch 0.
    pub fn new(planner: Arc<TokenPlanner>, part: Partition) -> Result<TokenLoader> {
        Partition::new(part.rank, part.world, part.remainder)?;
        let state = LoaderState {
            fingerprint: planner.fingerprint(),
            ..LoaderState::default()
        };
        Ok(TokenLoader {
            planner,
            part,
            state,
            threads: 0,
            prefetch: 0,
        })
    }

    /// Builds batches on `threads` reader threads (0: on the iterating thread, the default),
    /// up to `prefetch` batches ahead of the consumer; batch `b` comes from thread
    /// `b % threads`, so the order and the contents do not depend on the thread count.
    pub fn with_threads(mut self, threads: usize, prefetch: usize) -> TokenLoader {
        self.threads = threads;
        self.prefetch = prefetch;
        self
    }

    /// The planner.
    pub fn planner(&self) -> &Arc<TokenPlanner> {
        &self.planner
    }

    /// The state to checkpoint (as [`crate::Loader::state`]).
    pub fn state(&self) -> LoaderState {
        self.state.clone()
    }

    /// Restores a saved state (possibly from a run with another world size).
    pub fn set_state(&mut self, state: LoaderState) -> Result<()> {
        if state.fingerprint != self.planner.fingerprint() {
            return Err(Error::State(format!(
                "state fingerprint {:016x} does not match these token batches ({:016x})",
                state.fingerprint,
                self.planner.fingerprint()
            )));
        }
        self.state = state;
        Ok(())
    }

    /// Jumps to the start of `epoch`.
    pub fn set_epoch(&mut self, epoch: u64) {
        self.state.start_of(epoch);
    }

    /// This rank's remaining batches of the current epoch; afterwards the state points at the
    /// start of the next epoch.
    pub fn epoch(&mut self) -> Result<TokenEpochIter<'_>> {
        let plan = self.planner.epoch(self.state.epoch)?;
        let n = plan.len() as u64;
        let cap = n.saturating_mul(2).saturating_add(1 << 20);
        let rest = Remaining::from_ranges(
            self.state
                .remaining(n)
                .ranges()
                .iter()
                .map(|r| [r[0].min(cap), r[1].min(cap)])
                .collect(),
        );
        let count = self.part.count(rest.len());
        let b = self.unit_batch() as u64;
        let nbatches = if self.planner.opts.drop_last {
            count / b
        } else {
            count.div_ceil(b)
        } as usize;
        let work = Arc::new(TokenWork {
            planner: self.planner.clone(),
            part: self.part,
            plan,
            rest,
            count,
            unit_batch: self.unit_batch(),
        });
        let readers = (self.threads > 0 && nbatches > 0)
            .then(|| Readers::start(&work, self.threads.min(nbatches), self.prefetch, nbatches));
        Ok(TokenEpochIter {
            loader: self,
            work,
            nbatches,
            next: 0,
            cache: HashMap::new(),
            readers,
        })
    }

    fn unit_batch(&self) -> usize {
        match self.planner.opts.mode {
            TokenMode::Packed => self.planner.opts.batch_size,
            TokenMode::Budget => 1,
        }
    }
}

/// What every batch of one epoch is built from (shared with the reader threads).
#[derive(Debug)]
struct TokenWork {
    planner: Arc<TokenPlanner>,
    part: Partition,
    plan: TokenPlan,
    rest: Remaining,
    count: u64,
    unit_batch: usize,
}

/// Decoded ids of stored sequences (compressed members), per batch.
type IdCache = HashMap<(u16, SampleLoc), Vec<i64>>;

impl TokenWork {
    /// The ids of one stored sequence, widened.
    fn ids<'c>(&self, cache: &'c mut IdCache, dataset: u16, loc: SampleLoc) -> Result<&'c [i64]> {
        let planner = &self.planner;
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry((dataset, loc)) {
            let ds = &planner.mixture.datasets()[dataset as usize];
            let info = ds.info_at(loc);
            let name = info
                .sample
                .members
                .iter()
                .find(|m| member::logical_name(&m.name).0 == INPUT_IDS)
                .map(|m| m.name.clone())
                .unwrap_or_default();
            let bytes = ds.member_bytes(loc, &name)?;
            let v = npy::decode(&bytes)
                .map_err(|e| Error::corrupt(ds.root(), format!("sample {:?}: {e}", info.key())))?;
            let ids: Vec<i64> = match v.dtype {
                Dtype::U8 => v.data.iter().map(|&x| i64::from(x)).collect(),
                Dtype::U16 => v
                    .data
                    .chunks_exact(2)
                    .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                _ => v
                    .data
                    .chunks_exact(4)
                    .map(|c| i64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            };
            slot.insert(ids);
        }
        Ok(cache.get(&(dataset, loc)).map_or(&[], Vec::as_slice))
    }

    /// Appends the tokens of `span` to `out`.
    fn read_span(&self, cache: &mut IdCache, span: Span, out: &mut Vec<i64>) -> Result<()> {
        let planner = &self.planner;
        let d = span.doc as usize;
        let mut at = 0u64; // token offset of the piece in the document
        for pi in planner.doc_pieces[d]..planner.doc_pieces[d + 1] {
            let p = planner.pieces[pi];
            let plen = u64::from(p.end - p.start);
            let (a, b) = (span.from.max(at), span.to.min(at + plen));
            if a < b {
                let ids = self.ids(cache, p.dataset, p.loc)?;
                let s = p.start as usize + (a - at) as usize;
                let e = s + (b - a) as usize;
                out.extend_from_slice(ids.get(s..e).unwrap_or_default());
            }
            at += plen;
        }
        Ok(())
    }

    fn build(&self, b: usize, cache: &mut IdCache) -> Result<TokenBatch> {
        let n = self.plan.len() as u64;
        let ub = self.unit_batch as u64;
        let k0 = b as u64 * ub;
        let k1 = (k0 + ub).min(self.count);
        let opts = &self.planner.opts;
        let mut batch = TokenBatch {
            epoch: self.plan.epoch,
            index: b,
            cu_seqlens: vec![0],
            ..TokenBatch::default()
        };
        cache.clear();
        for k in k0..k1 {
            let pos = self.part.position(n, &self.rest, k);
            batch.positions.push(pos);
            let row_start = batch.input_ids.len();
            for &s in self.plan.unit(Partition::unit_at(pos, n)) {
                self.read_span(cache, s, &mut batch.input_ids)?;
                let len = (s.to - s.from) as i64;
                batch.position_ids.extend(0..len);
                batch.cu_seqlens.push(batch.input_ids.len() as i32);
                batch.max_seqlen = batch.max_seqlen.max(len as i32);
                batch.spans.push(s);
            }
            if opts.mode == TokenMode::Packed {
                let end = row_start + opts.seq_len;
                batch.input_ids.resize(end, opts.pad_id);
                batch.position_ids.resize(end, 0);
            }
        }
        batch.rows = match opts.mode {
            TokenMode::Packed => (k1 - k0) as usize,
            TokenMode::Budget => 1,
        };
        batch.seq_len = batch.input_ids.len() / batch.rows.max(1);
        Ok(batch)
    }
}

/// Reader threads of one epoch: thread `t` builds batches `t, t + threads, ...` into its own
/// bounded channel; the iterator takes them round-robin.
#[derive(Debug)]
struct Readers {
    rx: Vec<Receiver<Result<TokenBatch>>>,
    handles: Vec<JoinHandle<()>>,
    cancel: Arc<AtomicBool>,
}

impl Readers {
    fn start(work: &Arc<TokenWork>, threads: usize, prefetch: usize, nbatches: usize) -> Readers {
        let depth = prefetch.max(1).div_ceil(threads);
        let cancel = Arc::new(AtomicBool::new(false));
        let (mut rx, mut handles) = (Vec::new(), Vec::new());
        for t in 0..threads {
            let (tx, r) = sync_channel(depth);
            let (w, stop) = (work.clone(), cancel.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("bomdata-tokens-{t}"))
                .spawn(move || {
                    let mut cache = IdCache::new();
                    let mut b = t;
                    while b < nbatches && !stop.load(Ordering::Relaxed) {
                        if tx.send(w.build(b, &mut cache)).is_err() {
                            return;
                        }
                        b += threads;
                    }
                });
            match spawned {
                Ok(h) => {
                    rx.push(r);
                    handles.push(h);
                }
                // fewer threads than asked: batch `b` must come from thread `b % threads`
                Err(_) => break,
            }
        }
        if rx.len() < threads {
            cancel.store(true, Ordering::Relaxed);
            rx.clear();
        }
        Readers {
            rx,
            handles,
            cancel,
        }
    }

    /// Batch `b`, from its thread (`None` if the thread is gone).
    fn recv(&self, b: usize) -> Option<Result<TokenBatch>> {
        self.rx.get(b % self.rx.len().max(1))?.recv().ok()
    }

    fn stop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.rx.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// The token batches of one epoch on this rank, in order.
#[derive(Debug)]
pub struct TokenEpochIter<'a> {
    loader: &'a mut TokenLoader,
    work: Arc<TokenWork>,
    nbatches: usize,
    next: usize,
    cache: IdCache,
    /// With reader threads: they build the batches (else `next` does).
    readers: Option<Readers>,
}

impl TokenEpochIter<'_> {
    /// Batches it yields in all.
    pub fn len(&self) -> usize {
        self.nbatches
    }

    /// True when it yields none.
    pub fn is_empty(&self) -> bool {
        self.nbatches == 0
    }

    /// The loader state after the batches yielded so far.
    pub fn state(&self) -> LoaderState {
        self.loader.state.clone()
    }
}

impl Iterator for TokenEpochIter<'_> {
    type Item = Result<TokenBatch>;

    fn next(&mut self) -> Option<Result<TokenBatch>> {
        let epoch = self.work.plan.epoch;
        if self.next >= self.nbatches {
            if self.loader.state.epoch == epoch {
                self.loader.state.start_of(epoch + 1);
            }
            if let Some(r) = &mut self.readers {
                r.stop();
            }
            return None;
        }
        let got = match &self.readers {
            Some(r) => r
                .recv(self.next)
                .unwrap_or_else(|| Err(Error::config("token reader thread stopped"))),
            None => self.work.build(self.next, &mut self.cache),
        };
        self.next += 1;
        if got.is_ok() {
            let k = (self.next as u64 * self.work.unit_batch as u64).min(self.work.count);
            let done = self.next == self.nbatches;
            let n = self.work.plan.len() as u64;
            let w = &self.work;
            self.loader.state.advance(w.part, n, &w.rest, k, done);
        }
        Some(got)
    }
}

impl Drop for TokenEpochIter<'_> {
    fn drop(&mut self) {
        if let Some(r) = &mut self.readers {
            r.stop();
        }
    }
}
