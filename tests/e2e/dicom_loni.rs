//! Issue 19 item 4: the AIBL and J-ADNI raw DICOM download layouts (LONI IDA, the ADNI tree
//! with these cohorts' subject IDs; `bomdata_testdata::loni`) through `bomdata ingest` and
//! `bomdata shard --profile volume`: detected as their own sources, one sample per series equal
//! to `bomdata_dicom::series::volume` of the native files, no identifying string, subject ID,
//! ImageUID, date or UID in any output byte. Where DCMTK is installed, the AIBL PET series is
//! first re-encoded as JPEG-LS lossless (`dcmcjpls`), so the codec runs through the product
//! path too.

use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_testdata::dicom::Series;
use bomdata_testdata::loni::{IDENTIFYING, aibl_dicom_tree, jadni_dicom_tree};
use bomdata_tests::bomdata;

use crate::dicom::{assert_nothing_identifying, check, ingest_ok, series_files};
use crate::privacy::{files, streams};

fn detected(src: &Path) -> String {
    let d = bomdata_ingest::registry::Registry::builtin()
        .unwrap()
        .detect(src)
        .unwrap();
    d[0].source.clone()
}

/// Copies a series folder to `keep` and re-encodes its instances in place with `dcmcjpls
/// args`; `false` when DCMTK is absent.
fn to_jpeg_ls(dir: &Path, keep: &Path, args: &[&str]) -> bool {
    std::fs::create_dir_all(keep).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let kept = keep.join(p.file_name().unwrap());
        std::fs::copy(&p, &kept).unwrap();
        match Command::new("dcmcjpls")
            .args(args)
            .arg(&kept)
            .arg(&p)
            .output()
        {
            Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
            Err(_) => return false,
        }
    }
    true
}

/// The keys of the samples (tar members `<key>.meta.json`) in the shards under `dir`.
fn sample_keys(dir: &Path) -> Vec<String> {
    let mut all = Vec::new();
    for (rel, bytes) in files(dir) {
        streams(&rel, bytes, &mut all);
    }
    let mut keys: Vec<String> = all
        .iter()
        .filter_map(|(n, _)| n.rsplit_once(':')?.1.strip_suffix(".meta.json"))
        .map(String::from)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The sample of series `s` (by its description and slice count) checked against `files`.
fn check_series(got: &[(serde_json::Value, Vec<u8>)], s: &Series, files: &[PathBuf]) {
    let (meta, npy) = got
        .iter()
        .find(|(m, _)| {
            m["kind"].as_str() == Some(s.description.as_str())
                && m["shape"][2].as_u64() == Some(s.slices as u64)
        })
        .unwrap_or_else(|| panic!("no sample for {} ({} slices)", s.description, s.slices));
    check(meta, npy, files);
}

#[test]
#[allow(clippy::print_stderr)] // the skip of the JPEG-LS part is said where the output shows it
fn aibl_raw_dicom_to_volume_shards_deidentified() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("aibl-raw");
    let series = aibl_dicom_tree(&src);
    assert_eq!(detected(&src), "aibl");
    // The PET series re-encoded JPEG-LS lossless (near-lossless needs unsigned pixels); its
    // volume is checked against the native instances.
    let native: Vec<PathBuf> = (0..series.len())
        .map(|i| d.path().join(format!("native-{i}")))
        .collect();
    let mut files: Vec<Vec<PathBuf>> = series.iter().map(|(s, dir)| series_files(dir, s)).collect();
    let jls = to_jpeg_ls(&series[1].1, &native[1], &[]);
    if jls {
        files[1] = series_files(&native[1], &series[1].0);
    } else {
        eprintln!("dcmcjpls is absent (Debian package dcmtk): series ingested uncompressed");
    }
    let (ds, train, got) = ingest_ok(d.path(), &src, "aibl", 4);
    for ((s, _), f) in series.iter().zip(&files) {
        check_series(&got, s, f);
    }
    // Sessions are visit numbers per RID (8641: MPRAGE then PiB the next day; 9752: two
    // MPRAGE visits); the RID itself is pseudonymised (searched for below).
    let keys = sample_keys(&ds);
    assert_eq!(keys.len(), 4, "{keys:?}");
    for visit in ["v01", "v02"] {
        let n = keys.iter().filter(|k| k.contains(visit)).count();
        assert_eq!(n, 2, "{visit}: {keys:?}");
    }
    let src_s = src.display().to_string();
    let mut extra = IDENTIFYING.to_vec();
    extra.extend([src_s.as_str(), "aibl-raw"]);
    assert_nothing_identifying(&[&ds, &train], &extra);
    for dir in [&ds, &train] {
        assert!(bomdata(&["verify"], &[dir]).status.success());
    }
}

#[test]
fn jadni_raw_dicom_to_volume_shards_deidentified() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("jadni-raw");
    let series = jadni_dicom_tree(&src);
    // An ADNI-style PTID inside the J-ADNI folder: detected as J-ADNI, not ADNI.
    assert_eq!(detected(&src), "j_adni");
    let (ds, train, got) = ingest_ok(d.path(), &src, "j_adni", 3);
    for (s, dir) in &series {
        check_series(&got, s, &series_files(dir, s));
    }
    let src_s = src.display().to_string();
    let mut extra = IDENTIFYING.to_vec();
    extra.extend([src_s.as_str(), "jadni-raw"]);
    assert_nothing_identifying(&[&ds, &train], &extra);
}
