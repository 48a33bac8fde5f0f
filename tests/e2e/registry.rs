//! `datasets.toml` entries name adapters that exist, or say they are planned.

use bomdata_ingest::registry::Registry;
use bomdata_ingest::sources;

#[test]
fn every_entry_names_an_existing_adapter_or_is_planned() {
    let reg = Registry::builtin().unwrap();
    assert!(reg.entries.len() >= 37, "{} entries", reg.entries.len());
    for e in &reg.entries {
        assert!(
            e.planned || sources::by_name(&e.adapter).is_some(),
            "[{}] names adapter {:?}, which does not exist, and is not marked planned",
            e.id,
            e.adapter
        );
        assert!(!e.layout.is_empty(), "[{}] has no layout globs", e.id);
        assert!(
            ["mri/1", "eeg/1", "genome/2", "omics/1"].contains(&e.schema.as_str()),
            "[{}] schema {}",
            e.id,
            e.schema
        );
    }
}

#[test]
fn the_sources_named_in_the_mission_are_registered() {
    let reg = Registry::builtin().unwrap();
    for id in [
        "ukb",
        "hcp",
        "abcd",
        "hbn_mri",
        "hbn_eeg",
        "adni",
        "oasis",
        "aibl",
        "a4",
        "dian",
        "j_adni",
        "kbase",
        "aric_ncs",
        "mcsa",
        "hrs",
        "fhs",
        "gard",
        "tueg",
        "ajile12",
        "nsrr",
        "peers",
        "gtex",
        "t2t_chm13",
        "grch38",
        "encode",
        "jaspar",
        "fantom5",
        "roadmap",
        "epdnew",
        "phastcons_phylop",
        "gtdb",
        "img_vr",
        "mgnify",
        "ensembl",
        "rnacentral",
        "rfam",
        "illumina_epic",
        "olink",
    ] {
        assert!(reg.get(id).is_some(), "{id} missing from datasets.toml");
    }
}

#[test]
fn detection_names_the_rule_that_matched() {
    let d = Registry::builtin()
        .unwrap()
        .detect(&bomdata_tests::example_bids())
        .unwrap();
    assert_eq!(d[0].source, "openneuro");
    assert_eq!(d[0].evidence.len(), 2);
}
