//! Source adapters, one module per layout.

pub mod adni;
pub mod bids;
pub mod genome;
pub mod hcp;
pub mod ukb;

use crate::Source;

/// Every adapter compiled in, by name.
pub fn all() -> Vec<Box<dyn Source>> {
    vec![
        Box::new(genome::GenomeSource),
        Box::new(bids::Bids),
        Box::new(ukb::Ukb),
        Box::new(hcp::Hcp),
        Box::new(adni::Adni),
    ]
}

/// The adapter of that name.
pub fn by_name(name: &str) -> Option<Box<dyn Source>> {
    all().into_iter().find(|s| s.name() == name)
}
