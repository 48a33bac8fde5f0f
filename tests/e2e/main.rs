//! End-to-end tests of bomdata, one binary.

mod cli;
mod ingest;
mod layering;
mod registry;
mod shard;
mod tokens;
