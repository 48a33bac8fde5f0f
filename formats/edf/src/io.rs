//! Streaming reader and writer.

pub mod reader;
pub mod writer;

pub use reader::Reader;
pub use writer::Writer;
