//! Source adapters, one module per layout.

pub mod adni;
pub mod ajile12;
pub mod bids;
pub mod bids_ephys;
pub mod bids_mixed;
pub mod clinical;
mod common;
pub mod dicom;
pub mod genome;
pub mod hcp;
pub mod loni;
pub mod methylation;
pub mod microbiome;
pub mod nsrr;
pub mod olink;
pub mod table_tree;
pub mod tueg;
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
        Box::new(dicom::DicomFolder),
        Box::new(loni::Aibl),
        Box::new(loni::JAdni),
        Box::new(tueg::Tueg),
        Box::new(nsrr::Nsrr),
        Box::new(bids_ephys::BidsEphys),
        Box::new(bids_mixed::BidsEphysMri),
        Box::new(ajile12::Ajile12),
        Box::new(olink::Olink),
        Box::new(methylation::Methylation),
        Box::new(microbiome::Microbiome),
        Box::new(clinical::Clinical),
        Box::new(table_tree::TableTree),
    ]
}

/// The adapter of that name.
pub fn by_name(name: &str) -> Option<Box<dyn Source>> {
    all().into_iter().find(|s| s.name() == name)
}
