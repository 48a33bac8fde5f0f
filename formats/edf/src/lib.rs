//! bomdata-edf: see the crate's README.
