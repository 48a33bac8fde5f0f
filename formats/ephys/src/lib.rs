//! bomdata-ephys: see the crate's README.
