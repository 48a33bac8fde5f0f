//! Issue 15 item 7, privacy: a tree with date session labels, names in `events.tsv` and EDF+
//! annotations and recognisable subject IDs is ingested and sharded; every byte of every file in
//! the dataset folder and the shard output (tar members, decompressed `.zst` members and
//! shards, Parquet files as raw bytes) is searched for the identifying strings. With
//! `--keep-identity --keep-free-text` the same search finds them, so the search can see them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use bomdata_testdata::eeg::{IDENTITY_STRINGS, bids_eeg_identity_tree};
use bomdata_tests::{bomdata, cmd, copy_dir, run};

/// Every file under `dir` (all of them, hidden ones too), as (relative path, bytes).
pub(crate) fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The members of a tar archive as (name, data); empty when `b` is not a tar.
fn tar_members(b: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= b.len() {
        let h = &b[at..at + 512];
        if h.iter().all(|&x| x == 0) || &h[257..262] != b"ustar" {
            break;
        }
        let text = |r: std::ops::Range<usize>| {
            String::from_utf8_lossy(&h[r])
                .trim_end_matches(['\0', ' '])
                .to_string()
        };
        let size = u64::from_str_radix(text(124..136).trim(), 8).unwrap() as usize;
        let prefix = text(345..500);
        let name = text(0..100);
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let start = at + 512;
        let data = b[start..(start + size).min(b.len())].to_vec();
        out.push((name, data));
        at = start + size.div_ceil(512) * 512;
    }
    out
}

/// Every byte stream a reader of `bytes` (named `name`) can see: the bytes themselves, the
/// decompressed bytes of a `.zst` file, and recursively the members of a tar.
pub(crate) fn streams(name: &str, bytes: Vec<u8>, out: &mut Vec<(String, Vec<u8>)>) {
    if name.ends_with(".zst") {
        let plain =
            zstd::decode_all(&bytes[..]).unwrap_or_else(|e| panic!("{name}: not zstd: {e}"));
        streams(name.trim_end_matches(".zst"), plain, out);
    }
    for (member, data) in tar_members(&bytes) {
        streams(&format!("{name}:{member}"), data, out);
    }
    out.push((name.to_string(), bytes));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// For each needle, the streams of the folders that hold it.
pub(crate) fn search(dirs: &[&Path], needles: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    for d in dirs {
        for (rel, bytes) in files(d) {
            streams(&format!("{}/{rel}", d.display()), bytes, &mut all);
        }
    }
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for n in needles {
        for (name, bytes) in &all {
            if contains(bytes, n.as_bytes()) {
                found.entry(n.to_string()).or_default().insert(name.clone());
            }
        }
    }
    found
}

/// Ingests the identity tree (zstd members) and shards it; returns (dataset, shards).
fn ingest_and_shard(root: &Path, extra: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = root.join("rawtree-Q7X");
    bids_eeg_identity_tree(&src);
    let ds = root.join("ds");
    let mut args = vec![
        "ingest",
        "--source",
        "hbn_eeg",
        "--compress",
        "member",
        "--jobs",
        "1",
    ];
    args.extend_from_slice(extra);
    args.push("--out");
    let o = bomdata(&args, &[&ds, &src]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let train = root.join("train");
    let o = bomdata(&["shard", "--seed", "1", "--out"], &[&train, &ds]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (ds, train)
}

#[test]
fn no_identifying_string_reaches_a_shareable_byte() {
    let d = tempfile::tempdir().unwrap();
    let (ds, train) = ingest_and_shard(d.path(), &[]);
    let src = d.path().join("rawtree-Q7X");
    let mut needles: Vec<&str> = IDENTITY_STRINGS.to_vec();
    let src_s = src.display().to_string();
    needles.push(&src_s);
    needles.push("rawtree-Q7X");
    let found = search(&[&ds, &train], &needles);
    assert!(
        found.is_empty(),
        "identifying strings in shareable outputs: {found:#?}"
    );

    // The dataset folder holds no run state; the private folder beside it does, with the raw
    // names (so the report there is useful to the data owner).
    assert!(!ds.join(".ingest").exists());
    let private = d.path().join("ds.private");
    for f in ["run.json", "plan.json", "report.jsonl", "lock"] {
        assert!(private.join(f).is_file(), "{f} in {}", private.display());
    }
    let private_found = search(&[&private], &["NDARSMITHJOHN", "20240105"]);
    assert_eq!(private_found.len(), 2, "{private_found:#?}");

    // Sessions became ordinals per subject, in order; free text was counted as dropped.
    let mut streams_all = Vec::new();
    for (rel, bytes) in files(&ds) {
        streams(&rel, bytes, &mut streams_all);
    }
    let keys: BTreeSet<String> = streams_all
        .iter()
        .filter_map(|(n, _)| n.split_once(':').map(|(_, m)| m.to_string()))
        .filter_map(|m| m.split_once('.').map(|(k, _)| k.to_string()))
        .collect();
    assert!(keys.iter().any(|k| k.contains("_1_task-rest")), "{keys:?}");
    assert!(keys.iter().any(|k| k.contains("_2_task-rest")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("_3_")), "{keys:?}");
    let dropped: u64 = streams_all
        .iter()
        .filter(|(n, _)| n.ends_with("meta.json"))
        .filter_map(|(_, b)| serde_json::from_slice::<serde_json::Value>(b).ok())
        .filter_map(|m| m["free_text_dropped"].as_u64())
        .sum();
    // One name per EDF (2 files) and two of the three events.tsv rows.
    assert_eq!(dropped, 4);

    // verify and inspect work on the dataset folder alone, copied away from its state.
    let copy = d.path().join("shared-copy");
    copy_dir(&ds, &copy);
    assert!(bomdata(&["verify"], &[&copy]).status.success());
    assert!(bomdata(&["inspect"], &[&copy]).status.success());
}

#[test]
fn keep_identity_keeps_them_so_the_search_can_see_them() {
    let d = tempfile::tempdir().unwrap();
    let (ds, train) = ingest_and_shard(d.path(), &["--keep-identity", "--keep-free-text"]);
    let found = search(&[&ds, &train], IDENTITY_STRINGS);
    let missing: Vec<&&str> = IDENTITY_STRINGS
        .iter()
        .filter(|s| !found.contains_key(**s))
        .collect();
    assert!(
        missing.is_empty(),
        "not found with --keep-identity: {missing:?}"
    );
}

fn ingest_with(src: &Path, out: &Path, key: &str, extra: &[&str]) -> Output {
    let mut c = cmd();
    c.env("BOMDATA_KEY", key)
        .arg("ingest")
        .arg(src)
        .arg("--out")
        .arg(out)
        .args(extra);
    run(c)
}

#[test]
fn state_dir_ranks_merge_overwrite_and_a_deleted_dataset() {
    let d = tempfile::tempdir().unwrap();
    let src = bomdata_tests::example_bids();
    let ds = d.path().join("ds");
    let st = d.path().join("st");
    let st_s = st.to_str().unwrap();
    let key1 = "first-key-0123456789";
    for r in ["0", "1"] {
        let o = ingest_with(
            &src,
            &ds,
            key1,
            &["--state-dir", st_s, "--rank", r, "--world-size", "2"],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(st.join("plan.json").is_file() && st.join("lock.rank-1").is_file());
    assert!(!d.path().join("ds.private").exists() && !ds.join(".ingest").exists());
    let o = bomdata(&["merge", "--state-dir", st_s], &[&ds]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // merge without the state folder says where it looked.
    let o = bomdata(&["merge"], &[&ds]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ds.private"));
    let first = bomdata_tests::tree(&ds);

    // Another key: refused on resume, accepted with --overwrite (which clears the state too).
    let key2 = "second-key-0123456789";
    let o = ingest_with(&src, &ds, key2, &["--state-dir", st_s]);
    assert_eq!(o.status.code(), Some(2));
    let o = ingest_with(&src, &ds, key2, &["--state-dir", st_s, "--overwrite"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_ne!(bomdata_tests::tree(&ds), first);

    // The dataset folder deleted by hand: its stale state does not block a fresh run.
    std::fs::remove_dir_all(&ds).unwrap();
    let o = ingest_with(&src, &ds, key1, &["--state-dir", st_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(bomdata_tests::tree(&ds), first);
}

#[test]
fn an_allow_list_file_keeps_its_phrases_only() {
    let d = tempfile::tempdir().unwrap();
    let terms = d.path().join("terms.txt");
    std::fs::write(&terms, "# our protocol\nJane Roe said hello\n").unwrap();
    let (ds, _) = ingest_and_shard(d.path(), &["--allow-terms", terms.to_str().unwrap()]);
    let found = search(
        &[&ds],
        &["Jane Roe said hello", "Margaret Hamilton", "Dr Octavius"],
    );
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        ["Jane Roe said hello"],
        "{found:#?}"
    );
}
