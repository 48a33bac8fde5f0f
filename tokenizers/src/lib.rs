//! bomdata-tokenizers: DNA and text tokenizers, and token packing for token shards.
//!
//! Supported models (each a [`TokenizerConfig`] variant, serialised as `{"type": ..., ...}`):
//!
//! * `char`: HyenaDNA / Caduceus character ids (`[CLS]0 [SEP]1 [BOS]2 [MASK]3 [PAD]4
//!   [RESERVED]5 [UNK]6 A7 C8 G9 T10 N11`), lower case kept (→ `[UNK]`, HyenaDNA training) or
//!   upper-cased (Caduceus), optional `N` → `[PAD]`.
//! * `kmer`: Nucleotide Transformer non-overlapping k-mers with single-nucleotide fallback at
//!   `N` and at the tail.
//! * `byte`: Evo byte ids, case-sensitive.
//! * `hf`: any Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram, WordLevel), through the HF
//!   `tokenizers` crate 0.22 (cargo feature `hf`, on by default), including BPE trained on DNA by
//!   [`models::hf::train_dna_bpe`].
//!
//! Built-in profiles: [`builtin::BUILTIN_NAMES`]. Packing into fixed-length sequences and the
//! storage dtype: [`pack`](mod@pack). Case and N masks for DNA shards: [`dna`].
//!
//! Not supported: decoding ids back to text for `hf` beyond [`Tokenizer::id_to_token`]; the
//! upper-casing of non-ASCII characters (Python's `str.upper` can change their count).
//!
//! ```
//! use bomdata_tokenizers::{builtin, pack};
//!
//! let cfg = builtin::builtin("hyena-char").unwrap();
//! let tok = cfg.build()?;
//! let ids = tok.encode(b"ACGTNa")?;
//! assert_eq!(ids, [7, 8, 9, 10, 11, 6, 1]);
//! let seqs = pack::pack([ids], &pack::PackConfig::packed(4, 4))?;
//! assert_eq!(seqs.len(), 2);
//! assert_eq!(pack::min_dtype(tok.vocab_size()), pack::TokenDtype::U8);
//! # Ok::<(), bomdata_tokenizers::Error>(())
//! ```

pub mod builtin;
pub mod config;
pub mod dna;
pub mod error;
pub mod models;
pub mod pack;
pub mod tokenizer;

pub use config::{
    ByteConfig, CasePolicy, CharConfig, HfConfig, KmerConfig, KmerVocab, SpecialToken,
    TokenizerConfig, UnknownPolicy,
};
pub use error::{Error, Result};
pub use pack::{
    PackConfig, PackMode, PackedSequence, Packer, TokenDtype, min_dtype, pack,
    split_by_token_budget, unpack,
};
pub use tokenizer::Tokenizer;
