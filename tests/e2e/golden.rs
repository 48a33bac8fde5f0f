//! Golden output hashes: one deterministic synthetic tree per source family goes through
//! `bomdata ingest` and `bomdata shard` (the profiles that fit each family), plus the README's
//! `examples/bids-mini` walk-through (ingest, shard, verify, inspect); every output file is hashed (relative path → SHA-256) and the
//! list is compared with the committed `tests/golden/outputs.tsv`.
//!
//! Refactors that must keep the output bytes run this test; on a mismatch it prints every
//! differing path. `BOMDATA_BLESS=1` rewrites the list (only for an intended change of output
//! bytes; say so in the commit). The list was first recorded from commit 84813e3.
//!
//! An ingest's private state lives outside the dataset folder (`OUT.private/`) and is not
//! hashed; a shard output's lock folder (`.ingest/`) is not hashed either. Nothing else is
//! skipped: two runs of the same inputs write the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_testdata::{eeg, genome, mri, tables};
use bomdata_tests::{cmd, example_bids, run};
use sha2::{Digest, Sha256};

/// Path of the committed list.
fn list_path() -> PathBuf {
    bomdata_testdata::workspace_root()
        .join("tests")
        .join("golden")
        .join("outputs.tsv")
}

/// Collects `name → (sha256, size)` for every output.
#[derive(Default)]
struct Hashes(BTreeMap<String, (String, u64)>);

impl Hashes {
    fn add_bytes(&mut self, name: String, bytes: &[u8]) {
        let h = hex(&Sha256::digest(bytes));
        self.0.insert(name, (h, bytes.len() as u64));
    }

    /// Every file under `dir` as `prefix/relative path`, skipping `.ingest/`.
    fn add_dir(&mut self, prefix: &str, dir: &Path) {
        let mut files = Vec::new();
        walk(dir, &mut files);
        assert!(
            !files.is_empty(),
            "{prefix}: {} holds no files",
            dir.display()
        );
        for p in files {
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == ".ingest" || rel.starts_with(".ingest/") {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            self.add_bytes(format!("{prefix}/{rel}"), &bytes);
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Runs `c`, asserting exit 0; returns stdout.
fn ok(what: &str, c: Command) -> Vec<u8> {
    let o = run(c);
    assert!(
        o.status.success(),
        "{what}: exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// One family: its tree, the registry entry, and the shard runs (name, extra arguments).
struct Family {
    name: &'static str,
    make: fn(&Path),
    source: &'static str,
    ingest_args: &'static [&'static str],
    shards: &'static [(&'static str, &'static [&'static str])],
}

/// Profile runs for MRI: canonical, SwiFT on a small grid, volume on a small grid.
const MRI_SHARDS: &[(&str, &[&str])] = &[
    ("canonical", &["--seed", "3"]),
    (
        "swift",
        &[
            "--profile",
            "swift",
            "--param",
            "target=8",
            "--param",
            "window=2",
            "--param",
            "stride=2",
        ],
    ),
    (
        "volume",
        &["--profile", "volume", "--param", "target=[6,5,4]"],
    ),
    (
        "volume-f32",
        &[
            "--profile",
            "volume",
            "--param",
            "target=[4,4,4]",
            "--param",
            "dtype=float32",
            "--param",
            "norm=minmax",
        ],
    ),
];

/// Profile runs for the short EEG trees (10 s recordings).
const EEG_SHORT_SHARDS: &[(&str, &[&str])] = &[
    ("canonical", &["--seed", "5"]),
    ("eegpt", &["--profile", "eegpt"]),
    (
        "generic",
        &[
            "--profile",
            "generic",
            "--param",
            "window_s=2",
            "--param",
            "stride_s=2",
        ],
    ),
];

/// CBraMod needs 300 s recordings (60 s trimmed at each end): one 19-electrode recording.
const EEG_LONG_SHARDS: &[(&str, &[&str])] =
    &[("canonical", &[]), ("cbramod", &["--profile", "cbramod"])];

/// Every other EEG profile with its defaults on three 30 s 19-electrode recordings.
const EEG_1020_SHARDS: &[(&str, &[&str])] = &[
    ("canonical", &["--seed", "2"]),
    ("labram", &["--profile", "labram"]),
    ("eegpt", &["--profile", "eegpt"]),
    ("biot", &["--profile", "biot"]),
    ("diver", &["--profile", "diver"]),
    ("generic", &["--profile", "generic"]),
];

const GENOME_SHARDS: &[(&str, &[&str])] = &[
    ("canonical", &["--seed", "4"]),
    (
        "tokens-hyena-char",
        &[
            "--tokens",
            "hyena-char",
            "--seq-len",
            "128",
            "--tokens-per-shard",
            "2048",
        ],
    ),
    (
        "tokens-evo-byte-pad",
        &["--tokens", "evo-byte", "--seq-len", "64", "--pad"],
    ),
];

const TABLE_SHARDS: &[(&str, &[&str])] = &[("canonical", &["--seed", "6"])];

fn long_eeg(root: &Path) {
    eeg::tueg_long_tree(root, 1, 310);
}

fn ten_twenty_eeg(root: &Path) {
    eeg::tueg_long_tree(root, 3, 30);
}

fn families() -> Vec<Family> {
    vec![
        Family {
            name: "mri-bids",
            make: mri::bids_recordings,
            source: "openneuro",
            ingest_args: &[],
            shards: MRI_SHARDS,
        },
        Family {
            name: "mri-bids-mini",
            make: |root| bomdata_tests::copy_dir(&example_bids(), root),
            source: "openneuro",
            ingest_args: &["--float16"],
            shards: MRI_SHARDS,
        },
        Family {
            name: "mri-hcp",
            make: mri::hcp_tree,
            source: "hcp",
            ingest_args: &[],
            shards: MRI_SHARDS,
        },
        Family {
            name: "mri-adni",
            make: mri::adni_tree,
            source: "adni",
            ingest_args: &[],
            shards: MRI_SHARDS,
        },
        Family {
            name: "mri-ukb",
            make: mri::ukb_recordings,
            source: "ukb",
            ingest_args: &["--compress", "member"],
            shards: MRI_SHARDS,
        },
        Family {
            name: "eeg-tueg",
            make: eeg::tueg_recordings,
            source: "tueg",
            ingest_args: &["--chunk-seconds", "4"],
            shards: EEG_SHORT_SHARDS,
        },
        Family {
            name: "eeg-tueg-discontinuous",
            make: eeg::tueg_discontinuous,
            source: "tueg",
            ingest_args: &["--chunk-seconds", "2"],
            shards: &[("canonical", &[])],
        },
        Family {
            name: "eeg-nsrr",
            make: eeg::nsrr_tree,
            source: "nsrr",
            ingest_args: &[],
            shards: EEG_SHORT_SHARDS,
        },
        Family {
            name: "eeg-bids",
            make: eeg::bids_eeg_recordings,
            source: "hbn_eeg",
            ingest_args: &["--chunk-seconds", "4"],
            shards: EEG_SHORT_SHARDS,
        },
        Family {
            name: "eeg-tueg-long",
            make: long_eeg,
            source: "tueg",
            ingest_args: &[],
            shards: EEG_LONG_SHARDS,
        },
        Family {
            name: "eeg-tueg-1020",
            make: ten_twenty_eeg,
            source: "tueg",
            ingest_args: &[],
            shards: EEG_1020_SHARDS,
        },
        Family {
            name: "genome",
            make: genome::assembly_tree,
            source: "t2t_chm13",
            ingest_args: &[],
            shards: GENOME_SHARDS,
        },
        Family {
            name: "table-methylation",
            make: tables::methylation_recordings,
            source: "illumina_epic",
            ingest_args: &[],
            shards: TABLE_SHARDS,
        },
        Family {
            name: "table-olink",
            make: tables::olink_tree,
            source: "olink",
            ingest_args: &[],
            shards: TABLE_SHARDS,
        },
        Family {
            name: "table-microbiome",
            make: tables::microbiome_tree,
            source: "mgnify",
            ingest_args: &[],
            shards: TABLE_SHARDS,
        },
        Family {
            name: "table-clinical",
            make: tables::clinical_tree,
            source: "aric_ncs",
            ingest_args: &["--allow-planned"],
            shards: TABLE_SHARDS,
        },
    ]
}

/// Builds, ingests and shards one family under `work`, hashing every output.
fn run_family(f: &Family, work: &Path, hashes: &mut Hashes) {
    let src = work.join("src").join(f.name);
    std::fs::create_dir_all(&src).unwrap();
    (f.make)(&src);
    let canon = work.join("out").join(f.name).join("ingest");
    let mut c = cmd();
    c.arg("ingest")
        .arg(&src)
        .arg("--out")
        .arg(&canon)
        .args(["--source", f.source, "--jobs", "2"])
        .args(f.ingest_args);
    let t = std::time::Instant::now();
    ok(&format!("{}: ingest", f.name), c);
    eprintln!(
        "golden: {} ingest in {:.1} s",
        f.name,
        t.elapsed().as_secs_f64()
    );
    hashes.add_dir(&format!("{}/ingest", f.name), &canon);
    for (name, args) in f.shards {
        let out = work.join("out").join(f.name).join(format!("shard-{name}"));
        let mut c = cmd();
        c.arg("shard")
            .arg(&canon)
            .arg("--out")
            .arg(&out)
            .args(*args);
        let t = std::time::Instant::now();
        ok(&format!("{}: shard {name}", f.name), c);
        eprintln!(
            "golden: {} shard {name} in {:.1} s",
            f.name,
            t.elapsed().as_secs_f64()
        );
        hashes.add_dir(&format!("{}/shard-{name}", f.name), &out);
    }
}

/// The README's `examples/bids-mini` walk-through (what `scripts/example.sh` ran before the
/// multi-modal cohort), with the binary under test: ingest of the example tree
/// with the public key, shard with seed 1, verify and inspect (their stdout is hashed too,
/// with the output folder's path replaced by `OUT`).
fn run_example(work: &Path, hashes: &mut Hashes) {
    let out = work.join("example");
    let canonical = out.join("canonical");
    let training = out.join("training");
    let mut c = cmd();
    c.env_remove("BOMDATA_KEY")
        .arg("ingest")
        .arg(example_bids())
        .arg("--out")
        .arg(&canonical)
        .arg("--allow-unkeyed");
    ok("example: ingest", c);
    let mut c = cmd();
    c.env_remove("BOMDATA_KEY")
        .arg("shard")
        .arg(&canonical)
        .arg("--out")
        .arg(&training)
        .args(["--seed", "1"]);
    ok("example: shard", c);
    let root = out.to_string_lossy().to_string();
    for what in ["verify", "inspect"] {
        let mut c = cmd();
        c.env_remove("BOMDATA_KEY").arg(what).arg(&training);
        let stdout =
            String::from_utf8_lossy(&ok(&format!("example: {what}"), c)).replace(&root, "OUT");
        hashes.add_bytes(format!("example/{what}.stdout"), stdout.as_bytes());
    }
    hashes.add_dir("example/canonical", &canonical);
    hashes.add_dir("example/training", &training);
}

fn read_list(path: &Path) -> BTreeMap<String, (String, u64)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let mut it = l.split('\t');
            let (p, h, n) = (it.next()?, it.next()?, it.next()?);
            Some((p.to_string(), (h.to_string(), n.parse().ok()?)))
        })
        .collect()
}

fn write_list(path: &Path, hashes: &Hashes) {
    let mut text = String::from(
        "# Golden output hashes of tests/e2e/golden.rs: path\\tsha256\\tsize. \
         Rewrite with BOMDATA_BLESS=1 only for an intended change of output bytes.\n",
    );
    for (p, (h, n)) in &hashes.0 {
        text.push_str(&format!("{p}\t{h}\t{n}\n"));
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every difference between the committed list and this run, one line each.
fn differences(
    want: &BTreeMap<String, (String, u64)>,
    got: &BTreeMap<String, (String, u64)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (p, w) in want {
        match got.get(p) {
            None => out.push(format!("missing  {p}")),
            Some(g) if g != w => out.push(format!(
                "changed  {p}  (size {} → {}, sha256 {} → {})",
                w.1,
                g.1,
                &w.0[..12],
                &g.0[..12]
            )),
            Some(_) => {}
        }
    }
    for p in got.keys().filter(|p| !want.contains_key(*p)) {
        out.push(format!("new      {p}"));
    }
    out
}

#[test]
fn golden_outputs_of_every_family_and_the_example() {
    let work = tempfile::tempdir().unwrap();
    let mut hashes = Hashes::default();
    let only = std::env::var("BOMDATA_GOLDEN_ONLY").ok();
    for f in families() {
        if only.as_deref().is_some_and(|o| o != f.name) {
            continue;
        }
        let t = std::time::Instant::now();
        run_family(&f, work.path(), &mut hashes);
        eprintln!("golden: {} in {:.1} s", f.name, t.elapsed().as_secs_f64());
    }
    if only.is_none() {
        run_example(work.path(), &mut hashes);
    }
    if let Some(keep) = std::env::var_os("BOMDATA_GOLDEN_KEEP") {
        bomdata_tests::copy_dir(work.path(), Path::new(&keep));
    }
    let path = list_path();
    if std::env::var_os("BOMDATA_BLESS").is_some_and(|v| v == "1") {
        assert!(
            only.is_none(),
            "bless the whole list, not BOMDATA_GOLDEN_ONLY"
        );
        write_list(&path, &hashes);
        eprintln!(
            "golden: wrote {} entries to {}",
            hashes.0.len(),
            path.display()
        );
        return;
    }
    let mut want = read_list(&path);
    if let Some(o) = &only {
        want.retain(|p, _| p.starts_with(&format!("{o}/")));
    }
    let diff = differences(&want, &hashes.0);
    assert!(
        diff.is_empty(),
        "{} of {} golden outputs differ from {} (BOMDATA_BLESS=1 rewrites it for an intended \
         change):\n{}",
        diff.len(),
        want.len(),
        path.display(),
        diff.join("\n")
    );
}
