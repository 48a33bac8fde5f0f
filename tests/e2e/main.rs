//! End-to-end tests of bomdata, one binary.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // helpers outside #[test] functions

mod cli;
mod demo;
mod dicom;
mod dicom_dwi;
mod dicom_loni;
mod distributed;
mod eeg_direct;
mod golden;
mod hdf5;
mod honest;
mod ingest;
mod layering;
mod loader;
mod meg;
mod mutation;
mod pet;
mod privacy;
mod registry;
mod safe;
mod shard;
mod splits;
mod swift_direct;
mod tables;
mod tokens;
mod tokens_direct;
