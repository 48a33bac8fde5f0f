//! Tokenizer models, one module each.

pub mod byte;
pub mod char;
#[cfg(feature = "hf")]
pub mod hf;
pub mod kmer;
