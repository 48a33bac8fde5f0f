//! bomdata-nifti: see the crate's README.
