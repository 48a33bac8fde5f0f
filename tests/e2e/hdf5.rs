//! The default build reads the HDF5 formats: `probe` of the NWB and BIOM v2.1 fixtures of
//! `tests/fixtures` succeeds (a build without HDF5 refuses them with "built without hdf5").

use bomdata_tests::{cmd, run};

fn probe_json(rel: &str) -> serde_json::Value {
    let p = bomdata_testdata::require_fixtures().join(rel);
    let mut c = cmd();
    c.arg("probe").arg(&p).arg("--json");
    let o = run(c);
    assert!(
        o.status.success(),
        "probe {rel}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn probe_reads_nwb_fixtures() {
    for rel in [
        "nwb/pynwb_1.0.2_nwbfile.nwb",
        "nwb/pynwb_2.1.0_nwbfile_with_extension.nwb",
    ] {
        let v = probe_json(rel);
        assert!(v.get("error").is_none(), "{rel}: {v}");
    }
}

#[test]
fn probe_reads_a_biom_v21_hdf5_fixture() {
    let v = probe_json("biom/min_sparse_otu_table_hdf5.biom");
    assert!(v.get("error").is_none(), "{v}");
}
