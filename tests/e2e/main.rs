//! End-to-end tests of bomdata, one binary.
