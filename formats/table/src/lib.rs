//! bomdata-table: see the crate's README.
