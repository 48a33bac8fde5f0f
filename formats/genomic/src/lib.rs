//! bomdata-genomic: see the crate's README.
