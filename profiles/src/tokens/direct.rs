//! The direct path, `bomdata ingest <genome source> --tokens TOKENIZER`: token samples made
//! from each canonical DNA block while it is still in memory, without the canonical copy.
//!
//! What it writes, against `bomdata ingest` + `bomdata shard --tokens` with the same options:
//!
//! * the same documents (one per window, keyed as the window) with the same token ids, each in
//!   the same split: the split the block declares (held-out chromosomes, intervals), else the
//!   split of its subject by [`crate::build::split_of`] with the same seed and fractions;
//! * packed per block, not per split: each block's windows, in source order, go through their
//!   own [`Packer`] (the last sequence of a block is padded) into samples keyed
//!   `<block key>_<split>_NNNNNN` with the same members (`input_ids.npy`, `doc_offsets.npy`,
//!   `meta.json` as [`super::SequenceMeta`], `split` in it);
//! * shards roll over by ingest's `--max-shard-bytes`/`--max-shard-samples` (one unit's shards;
//!   `tokens_per_shard` only caps the ids per sample, as in the two-step path);
//! * no shuffle: the samples sit in the ingest unit's shards in source order (shuffle at load
//!   time), one shard set per unit and split (`u<hash>-<split>-NNNNNN.tar`, the split in the
//!   manifest's shard entries, so the loader's split filter works as on `shard` output);
//! * a tokenizer that refuses lower case (NT k-mers) is checked against the whole input before
//!   any unit writes ([`DirectTokens::lowercase_tally`], run by the ingest's pre-check), as the
//!   two-step path does: a soft-masked genome is refused as a whole, with the count over it;
//! * the dataset is an ingest dataset recording `profile = {"name": "tokens", params}`, with
//!   the tokenizer files written beside the shards as `shard --tokens` writes them
//!   (`tokenizer/config.json`, and `tokenizer/tokenizer.json` for a HF tokenizer:
//!   [`DirectTokens::write_files`]) and `manifest.tokenizer` = [`DirectTokens::reference`]:
//!   the same record as `shard --tokens` writes but without the whole-run counts (`documents`,
//!   `tokens`, `lowercase`), which the units of a resumable, distributed ingest run do not
//!   add up anywhere.

use std::collections::VecDeque;

use bomdata_schemas::manifest::ProfileRecord;
use bomdata_shard::Sample;
use bomdata_tokenizers::Packer;

use super::{Block, Current, Emitter, Setup, TokenOptions, cfg_err, documents, setup};
use crate::build::{SPLITS, split_of};
use crate::{Error, Result};

/// A tokenizer and packer applied to one canonical sample at a time (see the module docs).
pub struct DirectTokens {
    st: Setup,
    opts: TokenOptions,
    seed: u64,
    fractions: [f64; 3],
}

/// The token samples made of one canonical sample.
#[derive(Debug, Default)]
pub struct DirectOutput {
    /// Token samples, in order.
    pub samples: Vec<Sample>,
    /// Documents left out, with why (`key: reason`).
    pub rejected: Vec<String>,
    /// The split every one of `samples` belongs to (one block, one split).
    pub split: Option<&'static str>,
}

impl DirectTokens {
    /// Checks the options (tokenizer, pad token, sequence length) before anything is read.
    pub fn new(opts: TokenOptions, seed: u64, fractions: [f64; 3]) -> Result<Self> {
        let st = setup(&opts)?;
        Ok(DirectTokens {
            st,
            opts,
            seed,
            fractions,
        })
    }

    /// The options as a profile record (name `tokens`), for the fingerprint and the manifest.
    pub fn record(&self) -> ProfileRecord {
        let o = &self.opts;
        ProfileRecord {
            name: "tokens".into(),
            params: serde_json::json!({
                "tokenizer": o.tokenizer_id,
                "config": serde_json::to_value(&o.tokenizer).unwrap_or_default(),
                "field": o.field,
                "seq_len": o.seq_len,
                "mode": format!("{:?}", o.mode),
                "pad_side": format!("{:?}", o.pad_side),
                "overflow": format!("{:?}", o.overflow),
                "pad_id": self.st.pack_cfg.pad_id,
                "tokens_per_shard": o.tokens_per_shard,
                "seed": self.seed,
                "split": self.fractions,
            }),
        }
    }

    /// `manifest.tokenizer` of the direct output (see the module docs).
    pub fn reference(&self) -> Result<serde_json::Value> {
        super::tokenizer_reference(&self.opts, &self.st)
    }

    /// Writes the tokenizer files into the dataset folder `out`.
    pub fn write_files(&self, out: &std::path::Path) -> Result<()> {
        super::write_tokenizer_files(out, &self.opts)
    }

    /// The member the documents are taken from (`--tokens-field`).
    pub fn field(&self) -> Option<&str> {
        self.opts.field.as_deref()
    }

    /// The split of a canonical sample: the one its `genome/2` block declares, else its
    /// subject's (its key's when it has none).
    fn split(&self, sample: &Sample) -> Result<&'static str> {
        if let Some(m) = super::pick_member(sample, self.opts.field.as_deref())?
            && let Some(block) = super::block_of(sample, m)?
            && !block.split.is_empty()
        {
            return SPLITS
                .iter()
                .find(|s| **s == block.split)
                .copied()
                .ok_or_else(|| Error::DeclaredSplit {
                    key: sample.key.clone(),
                    split: block.split.clone(),
                });
        }
        let subject = sample.subject.as_deref().unwrap_or(&sample.key);
        Ok(split_of(self.seed, subject, &self.fractions))
    }

    /// A tokenizer that refuses lower case: fails on a block with soft-masked bases, with
    /// their count in the block and the way out (`--param case=upper`).
    fn check_lowercase(&self, docs: &super::KeyedDocs<'_>) -> Result<()> {
        let mut t = LowercaseTally::new(&self.opts.tokenizer_id);
        t.add_docs(docs);
        t.verdict()
    }

    /// With a tokenizer that refuses lower case, the tally of lower-case bases to run over the
    /// whole input before anything is written (as `shard --tokens` does); `None` otherwise.
    pub fn lowercase_tally(&self) -> Option<LowercaseTally> {
        (self.st.lowercase == Some(super::LowercaseEffect::Refused))
            .then(|| LowercaseTally::new(&self.opts.tokenizer_id))
    }

    /// Tokenizes the documents of `sample` and packs them into token samples.
    pub fn apply(&self, sample: &Sample) -> Result<DirectOutput> {
        let mut out = DirectOutput::default();
        let field = self.opts.field.as_deref();
        let Some(docs) = documents(sample, field)? else {
            out.rejected.push(format!("{}: no text member", sample.key));
            return Ok(out);
        };
        let split = self.split(sample)?;
        out.split = Some(split);
        if self.st.lowercase == Some(super::LowercaseEffect::Refused) {
            self.check_lowercase(&docs)?;
        }
        let mut em = Emitter {
            name: &sample.key,
            split,
            dtype: self.st.dtype,
            writer: None,
            collected: Vec::new(),
            per_sample: self.st.per_sample,
            pending: VecDeque::new(),
            current: None,
            index: 0,
            sequences: 0,
            stored: 0,
            block: Block::default(),
        };
        let mut packer = Packer::new(self.st.pack_cfg.clone()).map_err(cfg_err(&self.opts))?;
        let mut seqs = Vec::new();
        // One id buffer for every document of the block.
        let mut ids = Vec::new();
        for (key, bytes) in docs {
            ids.clear();
            self.st
                .tok
                .encode_into(bytes, &mut ids)
                .map_err(|source| Error::Tokenizer {
                    context: format!("tokenizing {key}"),
                    source,
                })?;
            if ids.is_empty() {
                out.rejected
                    .push(format!("{key}: empty document: no tokens"));
                continue;
            }
            em.pending.push_back(Current {
                key,
                subject: sample.subject.clone(),
                consumed: 0,
            });
            packer.push(&ids, &mut seqs);
            for s in seqs.drain(..) {
                em.emit(&s)?;
                packer.recycle(s);
            }
        }
        packer.finish(&mut seqs);
        for s in seqs.drain(..) {
            em.emit(&s)?;
        }
        em.flush()?;
        out.samples = em.collected;
        Ok(out)
    }
}

/// Lower-case bases over the documents seen, for a tokenizer that refuses them.
#[derive(Debug)]
pub struct LowercaseTally {
    tokenizer: String,
    bases: u64,
    documents: u64,
    first: Option<String>,
}

impl LowercaseTally {
    fn new(tokenizer: &str) -> Self {
        LowercaseTally {
            tokenizer: tokenizer.to_string(),
            bases: 0,
            documents: 0,
            first: None,
        }
    }

    fn add_docs(&mut self, docs: &super::KeyedDocs<'_>) {
        for (key, bytes) in docs {
            let n = super::lowercase_count(bytes);
            if n > 0 {
                self.bases += n;
                self.documents += 1;
                self.first.get_or_insert_with(|| key.clone());
            }
        }
    }

    /// Counts the lower-case bases of the documents of `sample` (`field` as the options').
    pub fn add(&mut self, sample: &Sample, field: Option<&str>) -> Result<()> {
        if let Some(docs) = documents(sample, field)? {
            self.add_docs(&docs);
        }
        Ok(())
    }

    /// Refused ([`Error::LowercaseRefused`], with the counts and the first document) when any
    /// document had lower-case bases.
    pub fn verdict(self) -> Result<()> {
        match self.first {
            None => Ok(()),
            Some(first) => Err(Error::LowercaseRefused {
                tokenizer: self.tokenizer,
                bases: self.bases,
                documents: self.documents,
                first,
            }),
        }
    }
}
