//! Streaming reader and writer.

pub mod reader;
mod whole;
pub mod writer;

pub use reader::Reader;
pub use writer::{WriteOptions, Writer};
