//! `bomdata ingest --profile swift` (issue 22): SwiFT windows straight from the NIfTI runs are
//! the samples `bomdata ingest` + `bomdata shard --profile swift` write, byte for byte, and the
//! dataset records the profile.

use std::collections::BTreeMap;
use std::path::Path;

use bomdata_shard::dataset::read_manifest;
use bomdata_shard::reader::ShardReader;
use bomdata_tests::{cmd, run};

const PARAMS: &[&str] = &[
    "--profile",
    "swift",
    "--param",
    "target=8",
    "--param",
    "window=2",
    "--param",
    "stride=2",
];

/// key → (member name → bytes) of every sample of a dataset.
pub(crate) fn samples(dir: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let m = read_manifest(dir).unwrap();
    let mut all = BTreeMap::new();
    for e in &m.shards {
        for s in ShardReader::open(dir, e).unwrap() {
            let s = s.unwrap();
            let members = s.members.into_iter().map(|m| (m.name, m.data)).collect();
            all.insert(s.key, members);
        }
    }
    all
}

/// Runs `bomdata SUB INPUT --out OUT ARGS...` and checks that it succeeded.
pub(crate) fn bomdata(sub: &str, input: &Path, out: &Path, args: &[&str]) {
    let mut c = cmd();
    c.arg(sub).arg(input).arg("--out").arg(out).args(args);
    let o = run(c);
    assert!(
        o.status.success(),
        "{sub} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn ingest_profile_swift_writes_the_shard_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    bomdata_testdata::mri::bids_recordings(&src);
    let canon = tmp.path().join("canon");
    let train = tmp.path().join("train");
    let direct = tmp.path().join("direct");
    let ingest = ["--source", "openneuro", "--allow-unkeyed"];
    bomdata("ingest", &src, &canon, &ingest);
    bomdata("shard", &canon, &train, PARAMS);
    bomdata("ingest", &src, &direct, &[&ingest[..], PARAMS].concat());

    let want = samples(&train);
    let got = samples(&direct);
    assert!(!want.is_empty());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert_eq!(got, want, "window members differ");
    let m = read_manifest(&direct).unwrap();
    let p = m.profile.expect("the profile is recorded");
    assert_eq!(p.name, "swift");
    assert_eq!(p.params["target"], 8);
    // A resume with another profile is refused (the fingerprint holds the profile).
    let mut other = cmd();
    other.arg("ingest").arg(&src).arg("--out").arg(&direct);
    other.args([
        "--source",
        "openneuro",
        "--allow-unkeyed",
        "--profile",
        "swift",
    ]);
    other.args(["--param", "target=8", "--param", "window=1"]);
    let o = run(other);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("profile"));
}
