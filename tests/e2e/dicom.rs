//! Issue 19 items 3–4 (ingest half): DICOM series through `bomdata ingest` and
//! `bomdata shard --profile volume`, on the synthetic ADNI raw-download tree and a generic
//! hospital folder (`bomdata_testdata::dicom`, every identifying attribute set to a
//! recognisable string). The volumes equal `bomdata_dicom::series::volume` on the same files
//! (values and affine); no identifying string or UID is in any output byte (tar members,
//! decoded `.zst`, Parquet raw); the series with BurnedInAnnotation YES is refused with its
//! reason, and accepted with `--allow-burned-in`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use bomdata_testdata::dicom::{IDENTIFYING, Series, adni_dicom_tree, generic_dicom_tree};
use bomdata_tests::bomdata;

use crate::privacy::{files, search, streams};

/// Ingests `src` as `source` (zstd members) and shards it with the volume profile at the
/// native grid, values unchanged; returns (ingest output, dataset, shards).
pub(crate) fn ingest_and_shard(
    root: &Path,
    src: &Path,
    source: &str,
    extra: &[&str],
) -> (Output, PathBuf, PathBuf) {
    let ds = root.join(format!("ds-{source}"));
    let mut args = vec![
        "ingest",
        "--source",
        source,
        "--compress",
        "member",
        "--jobs",
        "1",
    ];
    args.extend_from_slice(extra);
    args.push("--out");
    let ingest = bomdata(&args, &[&ds, src]);
    let train = root.join(format!("vol-{source}"));
    let o = bomdata(
        &[
            "shard",
            "--seed",
            "1",
            "--profile",
            "volume",
            "--param",
            "target=native",
            "--param",
            "norm=none",
            "--param",
            "dtype=float32",
            "--out",
        ],
        &[&train, &ds],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (ingest, ds, train)
}

/// [`ingest_and_shard`] for a run that must succeed with `n` training samples: (dataset, shards,
/// the samples).
pub(crate) fn ingest_ok(
    root: &Path,
    src: &Path,
    source: &str,
    n: usize,
) -> (PathBuf, PathBuf, Vec<(serde_json::Value, Vec<u8>)>) {
    let (ingest, ds, train) = ingest_and_shard(root, src, source, &[]);
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    let got = samples(&train);
    assert_eq!(
        got.len(),
        n,
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    (ds, train, got)
}

/// (meta.json, volume.npy) of every sample in the shards under `dir`.
pub(crate) fn samples(dir: &Path) -> Vec<(serde_json::Value, Vec<u8>)> {
    let mut all = Vec::new();
    for (rel, bytes) in files(dir) {
        streams(&rel, bytes, &mut all);
    }
    let mut by_key: BTreeMap<String, (Option<serde_json::Value>, Option<Vec<u8>>)> =
        BTreeMap::new();
    for (name, bytes) in all {
        let Some((_, member)) = name.rsplit_once(':') else {
            continue;
        };
        if let Some(key) = member.strip_suffix(".meta.json") {
            by_key.entry(key.to_string()).or_default().0 = serde_json::from_slice(&bytes).ok();
        } else if let Some(key) = member.strip_suffix(".volume.npy") {
            by_key.entry(key.to_string()).or_default().1 = Some(bytes);
        }
    }
    by_key
        .into_values()
        .filter_map(|(m, v)| Some((m?, v?)))
        .collect()
}

/// The number of tar members named `*.<field>` in the shards under `dir`.
fn samples_with(dir: &Path, field: &str) -> usize {
    let mut all = Vec::new();
    for (rel, bytes) in files(dir) {
        streams(&rel, bytes, &mut all);
    }
    let suffix = format!(".{field}");
    all.iter()
        .filter(|(n, _)| n.contains(':') && n.ends_with(&suffix))
        .count()
}

pub(crate) fn series_files(dir: &Path, s: &Series) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            bomdata_dicom::open(p)
                .ok()
                .and_then(|f| f.text(0x0020_000E))
                .is_some_and(|u| u == s.uid())
        })
        .collect();
    v.sort();
    v
}

/// The sample's array (C order) and affine equal `series::volume` of the files.
pub(crate) fn check(meta: &serde_json::Value, npy: &[u8], files: &[PathBuf]) {
    let vol = bomdata_dicom::series::volume(files).unwrap();
    let shape: Vec<usize> = serde_json::from_value(meta["shape"].clone()).unwrap();
    assert_eq!(shape, vol.shape, "{meta}");
    let affine: [[f64; 4]; 4] = serde_json::from_value(meta["affine"].clone()).unwrap();
    for (a, b) in affine.iter().flatten().zip(vol.affine.iter().flatten()) {
        assert!((a - b).abs() < 1e-6, "{meta}");
    }
    let a = bomdata_shard::npy::decode(npy).unwrap();
    let data: Vec<f32> = npy[a.data_offset..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (nx, ny, nz) = (vol.shape[0], vol.shape[1], vol.shape[2]);
    let nt = vol.shape.get(3).copied().unwrap_or(1);
    assert_eq!(data.len(), vol.data.len());
    for (f, want) in vol.data.iter().enumerate() {
        let (i, j, k, t) = (f % nx, f / nx % ny, f / (nx * ny) % nz, f / (nx * ny * nz));
        assert_eq!(data[((i * ny + j) * nz + k) * nt + t], *want as f32);
    }
}

pub(crate) fn assert_nothing_identifying(dirs: &[&Path], extra: &[&str]) {
    let mut needles: Vec<&str> = IDENTIFYING.to_vec();
    needles.extend_from_slice(extra);
    let found = search(dirs, &needles);
    assert!(
        found.is_empty(),
        "identifying strings in outputs: {found:#?}"
    );
}

#[test]
fn adni_raw_dicom_to_volume_shards_deidentified() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("adni-raw");
    let series = adni_dicom_tree(&src);
    let (ingest, ds, train) = ingest_and_shard(d.path(), &src, "adni", &[]);
    // The burned-in series fails the run (exit 1) and is named with its reason.
    assert_eq!(ingest.status.code(), Some(1));
    for report in [
        d.path().join("ds-adni.private/report.jsonl"),
        ds.join("report.jsonl"),
    ] {
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(text.contains("BurnedInAnnotation is YES"), "{text}");
    }
    // The raw download layout is detected as ADNI.
    let detected = bomdata_ingest::registry::Registry::builtin()
        .unwrap()
        .detect(&src)
        .unwrap();
    assert_eq!(detected[0].source, "adni", "{detected:?}");
    let got = samples(&train);
    assert_eq!(
        got.len(),
        3,
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    for (s, dir) in &series[..3] {
        let (meta, npy) = got
            .iter()
            .find(|(m, _)| m["kind"].as_str() == Some(s.description.as_str()))
            .unwrap();
        check(meta, npy, &series_files(dir, s));
    }
    let src_s = src.display().to_string();
    assert_nothing_identifying(&[&ds, &train], &[&src_s, "adni-raw", "I45109", "I46000"]);

    // The fMRI series goes through the SwiFT profile as a NIfTI run would.
    let swift = d.path().join("swift");
    let o = bomdata(
        &[
            "shard",
            "--seed",
            "1",
            "--profile",
            "swift",
            "--param",
            "target=8",
            "--param",
            "window=2",
            "--param",
            "stride=1",
            "--out",
        ],
        &[&swift, &ds],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let windows = samples_with(&swift, "fmri.npy");
    assert_eq!(windows, 2, "3 frames, window 2, stride 1");

    // Accepted with the flag.
    let out = d.path().join("burned");
    let o = bomdata(
        &["ingest", "--source", "adni", "--allow-burned-in", "--out"],
        &[&out, &src],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn generic_dicom_folder_to_volume_shards_deidentified() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("hospital-export");
    let series = generic_dicom_tree(&src);
    let (ds, train, got) = ingest_ok(d.path(), &src, "dicom", 3);
    for (s, dir) in &series {
        let files = series_files(dir, s);
        let (meta, npy) = got
            .iter()
            .find(|(m, _)| m["dicom"]["instances"].as_u64() == Some(files.len() as u64))
            .unwrap();
        check(meta, npy, &files);
    }
    let src_s = src.display().to_string();
    assert_nothing_identifying(&[&ds, &train], &[&src_s, "hospital-export", "IM11"]);
    for dir in [&ds, &train] {
        assert!(bomdata(&["verify"], &[dir]).status.success());
    }
}
