//! Hugging Face `tokenizer.json` models (BPE, WordPiece, Unigram, WordLevel) through the HF
//! `tokenizers` crate 0.22 ([`model`]), and BPE training on DNA ([`trainer`]).

pub mod model;
pub mod trainer;

pub use model::HfTokenizer;
pub use trainer::{BpeTrainConfig, train_dna_bpe};
