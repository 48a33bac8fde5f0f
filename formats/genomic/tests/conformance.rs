//! Conformance of the genomic readers with the reference Python readers over every fixture in
//! `tests/fixtures/{fasta,twobit,bam,bed,gff,bigwig}` (each `*.expected.json`).
//! A fixture that cannot be read fails the test.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::path::{Path, PathBuf};

use bomdata_format_core::ProbeOptions;
use bomdata_genomic::bbi::BbiFile;
use bomdata_genomic::fasta::{FaiStatus, IndexedFasta};
use bomdata_genomic::probe::probe;
use bomdata_genomic::twobit::TwoBit;
use serde_json::Value;

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = bomdata_testdata::require_fixtures().join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            !n.ends_with(".json")
                && !n.ends_with(".fai")
                && !n.ends_with(".gzi")
                && !n.ends_with(".bai")
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures in {}", root.display());
    v
}

fn expected(p: &Path) -> Option<Value> {
    let j = PathBuf::from(format!("{}.expected.json", p.display()));
    j.exists()
        .then(|| serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap())
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * y.abs().max(1.0),
        _ => a == b,
    }
}

/// Compares names, lengths, GC, N and lowercase counts, and sub-sequences with one reader's
/// `sequences` list.
fn check_sequences(
    p: &Path,
    got: &Value,
    want: &[Value],
    fetch: &mut dyn FnMut(&str, u64, u64) -> String,
    case_matters: bool,
) {
    let got = got["sequences"].as_array().unwrap();
    assert_eq!(
        got.len(),
        want.len(),
        "{}: number of sequences",
        p.display()
    );
    for (g, w) in got.iter().zip(want) {
        let name = w["name"].as_str().unwrap();
        assert_eq!(g["name"], w["name"], "{}", p.display());
        assert_eq!(g["length"], w["length"], "{name}");
        assert!(
            close(&g["gc_fraction_of_ACGT"], &w["gc_fraction_of_ACGT"]),
            "{name} gc {} vs {}",
            g["gc_fraction_of_ACGT"],
            w["gc_fraction_of_ACGT"]
        );
        assert_eq!(g["count_N"], w["count_N"], "{name} N");
        if case_matters {
            assert_eq!(
                g["count_lowercase"], w["count_lowercase"],
                "{name} lowercase"
            );
        }
        for s in w["subseqs"].as_array().unwrap() {
            let (a, b) = (s["start"].as_u64().unwrap(), s["end"].as_u64().unwrap());
            let seq = fetch(name, a, b);
            let want = s["seq"].as_str().unwrap();
            if case_matters {
                assert_eq!(seq, want, "{name}:{a}-{b}");
            } else {
                assert_eq!(seq.to_ascii_uppercase(), want, "{name}:{a}-{b}");
            }
        }
    }
}

#[test]
fn fasta() {
    for p in fixtures("fasta") {
        let exp = expected(&p).unwrap_or_else(|| panic!("{}: no expected json", p.display()));
        let got =
            probe(&p, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got["format"], "fasta");
        assert_eq!(got["bgzf"], exp["bgzf"], "{}", p.display());
        let mut fa = IndexedFasta::open(&p).unwrap();
        // The index we use must equal the one pysam builds from the data.
        let rows = exp["fai_rows_generated_by_pysam"].as_array().unwrap();
        assert_eq!(fa.sequences().len(), rows.len());
        for (r, w) in fa.sequences().iter().zip(rows) {
            assert_eq!(r.name, w["name"].as_str().unwrap());
            assert_eq!(r.length, w["length"].as_u64().unwrap());
            assert_eq!(r.offset, w["offset"].as_u64().unwrap());
            assert_eq!(r.line_bases, w["linebases"].as_u64().unwrap());
            assert_eq!(r.line_width, w["linewidth"].as_u64().unwrap());
        }
        // A shipped .fai: the fixture generator compared it with the one built from the data.
        // Where they agree we use the shipped one; where they disagree the data is right (an
        // index is derived from the data, never the other way round), so ours must be ignored.
        if let Some(eq) = exp.get("shipped_fai_equals_generated") {
            match (eq.as_bool().unwrap(), fa.fai_status()) {
                (true, FaiStatus::ShippedAgrees) => {}
                (false, FaiStatus::ShippedIgnored(_)) => {}
                (e, s) => panic!(
                    "{}: shipped fai equals data {e}, but status {s:?}",
                    p.display()
                ),
            }
        } else {
            assert_eq!(fa.fai_status(), &FaiStatus::Built);
        }
        if exp.get("shipped_gzi_bytes_equal_generated") == Some(&Value::Bool(true)) {
            assert_eq!(got["gzi"]["agrees"], true, "{}", p.display());
        }
        // pysam and pyfaidx agree on every fixture; compare with both.
        for reader in ["pysam", "pyfaidx"] {
            let want = exp[reader]["sequences"].as_array().unwrap();
            let mut fetch = |n: &str, a: u64, b: u64| {
                let mut v = Vec::new();
                fa.fetch(n, a, b, &mut v).unwrap();
                String::from_utf8(v).unwrap()
            };
            check_sequences(&p, &got, want, &mut fetch, true);
        }
        // the --region path
        let first = &exp["pysam"]["sequences"][0];
        let s = &first["subseqs"][1];
        let opts = ProbeOptions {
            region: Some(format!(
                "{}:{}-{}",
                first["name"].as_str().unwrap(),
                s["start"],
                s["end"]
            )),
            ..Default::default()
        };
        let got = probe(&p, &opts).unwrap();
        assert_eq!(got["region"]["seq"], s["seq"]);
    }
}

#[test]
fn twobit() {
    for p in fixtures("twobit") {
        let exp = expected(&p).unwrap();
        let got =
            probe(&p, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got["format"], "2bit");
        assert_eq!(got["byte_order"], exp["byte_order"]);
        assert_eq!(got["version"], exp["version"]);
        let tb = TwoBit::open(&p).unwrap();
        let mut fetch = |n: &str, a: u64, b: u64| {
            let mut v = Vec::new();
            tb.fetch(n, a, b, &mut v).unwrap();
            String::from_utf8(v).unwrap()
        };
        // Biopython applies the soft-mask blocks (lowercase), as PROBE.md asks: compare case.
        check_sequences(
            &p,
            &got,
            exp["biopython"]["sequences"].as_array().unwrap(),
            &mut fetch,
            true,
        );
        // py2bit returns upper case (its note says the soft mask is not applied): compare
        // everything but case.
        check_sequences(
            &p,
            &got,
            exp["py2bit"]["sequences"].as_array().unwrap(),
            &mut fetch,
            false,
        );
        let info = &exp["py2bit"]["info"];
        let total: u64 = tb.sequences().iter().map(|s| s.length).sum();
        assert_eq!(total, info["sequence length"].as_u64().unwrap());
        let hard: u64 = tb
            .sequences()
            .iter()
            .flat_map(|s| s.n_blocks.iter().map(|b| b.1))
            .sum();
        assert_eq!(hard, info["hard-masked length"].as_u64().unwrap());
    }
    // The same sequences as FASTA: 2bit and FASTA readers agree base for base.
    let fa_path = bomdata_testdata::require_fixtures().join("fasta/twobit_sequence.fa");
    let mut fa = IndexedFasta::open(&fa_path).unwrap();
    let tb = TwoBit::open(
        &bomdata_testdata::require_fixtures().join("twobit/sequence.littleendian.2bit"),
    )
    .unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for s in tb.sequences() {
        tb.fetch(&s.name, 0, s.length, &mut a).unwrap();
        fa.fetch_all(&s.name, &mut b).unwrap();
        assert_eq!(a, b, "{}", s.name);
    }
}

#[test]
fn bam() {
    for p in fixtures("bam") {
        if p.extension().is_some_and(|e| e == "fa") {
            // ex1.fa is the reference of ex1.bam (no expected json): its sequences must be the
            // BAM header's references, with the same lengths.
            let fa = IndexedFasta::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let bam = bomdata_genomic::bam::summarize(&p.with_extension("bam"), 0).unwrap();
            let got: Vec<(String, u64)> = fa
                .sequences()
                .iter()
                .map(|r| (r.name.clone(), r.length))
                .collect();
            assert_eq!(got, bam.references);
            continue;
        }
        let exp = expected(&p).unwrap();
        let got =
            probe(&p, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got["format"], "bam");
        for k in [
            "references",
            "lengths",
            "n_records",
            "n_unmapped_flag",
            "n_secondary",
            "n_supplementary",
        ] {
            assert_eq!(got[k], exp[k], "{} {k}", p.display());
        }
        let g = got["first_records"].as_array().unwrap();
        let w = exp["first_records"].as_array().unwrap();
        assert_eq!(g.len(), w.len());
        for (g, w) in g.iter().zip(w) {
            for k in ["qname", "flag", "pos0", "mapq", "cigar"] {
                assert_eq!(g[k], w[k], "{} {k}", p.display());
            }
            // PROBE.md: an unmapped record (flag 0x4) has rname null. pysam reports the
            // reference the unmapped read is placed on (its mate's); we follow PROBE.md.
            if w["flag"].as_u64().unwrap() & 4 != 0 {
                assert_eq!(g["rname"], Value::Null);
            } else {
                assert_eq!(g["rname"], w["rname"]);
            }
        }
    }
}

#[test]
fn bed() {
    for p in fixtures("bed") {
        let exp = expected(&p).unwrap();
        let got =
            probe(&p, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got["format"], "bed");
        assert_eq!(got["n_records"], exp["n_records"]);
        assert_eq!(got["chroms"], exp["chroms_in_order_unique"]);
        assert_eq!(got["sum_length"], exp["sum_length"]);
        assert_eq!(got["n_skipped_lines"], exp["n_skipped_lines"]);
        let recs = bomdata_genomic::bed::read_all(&p).unwrap();
        let first = &exp["first_3"].as_array().unwrap()[0];
        let cols: Vec<String> = [
            recs[0].chrom.clone(),
            recs[0].start.to_string(),
            recs[0].end.to_string(),
        ]
        .into_iter()
        .chain(recs[0].rest.iter().cloned())
        .collect();
        assert_eq!(serde_json::to_value(cols).unwrap(), *first);
    }
}

#[test]
fn gff() {
    for p in fixtures("gff") {
        let exp = expected(&p).unwrap();
        let got =
            probe(&p, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let fmt = got["format"].as_str().unwrap();
        assert!(
            exp["format"].as_str().unwrap().contains(fmt),
            "{fmt} vs {}",
            exp["format"]
        );
        assert_eq!(got["n_records"], exp["n_features"], "{}", p.display());
        assert_eq!(got["chroms"], exp["seqids_unique_in_order"]);
        // 1-based closed lengths (end - start + 1) equal our 0-based half-open end - start
        assert_eq!(got["sum_length"], exp["sum_len_1based_closed"]);
        assert_eq!(got["n_skipped_lines"], exp["n_skipped_lines"]);
        let want: serde_json::Map<String, Value> =
            exp["feature_type_counts"].as_object().unwrap().clone();
        assert_eq!(got["feature_type_counts"].as_object().unwrap(), &want);
        let recs = bomdata_genomic::gff::read_all(&p).unwrap();
        let w = &exp["first_3"][0];
        assert_eq!(
            recs[0].start + 1,
            w["cols"][3].as_str().unwrap().parse::<u64>().unwrap()
        );
        let attrs: Vec<Vec<String>> = recs[0]
            .attributes
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        assert_eq!(
            serde_json::to_value(attrs).unwrap(),
            w["attributes"],
            "{}",
            p.display()
        );
    }
}

fn f(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "NaN" => f64::NAN,
        _ => v.as_f64().unwrap(),
    }
}

#[test]
fn bigwig_and_bigbed() {
    for p in fixtures("bigwig") {
        let exp = expected(&p).unwrap();
        let got =
            probe(&p, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got["chroms"], exp["chroms"], "{}", p.display());
        let file = BbiFile::open(&p).unwrap();
        let h = &exp["header"];
        assert_eq!(
            u64::from(file.header().version),
            h["version"].as_u64().unwrap()
        );
        assert_eq!(
            u64::from(file.header().zoom_levels),
            h["nLevels"].as_u64().unwrap()
        );
        let s = file.summary().unwrap();
        assert_eq!(s.bases_covered, h["nBasesCovered"].as_u64().unwrap());
        // pyBigWig's header() returns sumData and sumSquared truncated to integers
        assert_eq!(s.sum.trunc(), f(&h["sumData"]));
        assert_eq!(s.sum_squares.trunc(), f(&h["sumSquared"]));
        for c in exp["per_chrom_first5"].as_array().unwrap() {
            let name = c["chrom"].as_str().unwrap();
            let len = c["length"].as_u64().unwrap();
            if exp["isBigWig"] == true {
                assert_eq!(got["format"], "bigwig");
                let ivs = file.intervals(name, 0, len).unwrap();
                assert_eq!(
                    ivs.len() as u64,
                    c["n_intervals"].as_u64().unwrap(),
                    "{name}"
                );
                for (iv, w) in ivs.iter().zip(c["first5_intervals"].as_array().unwrap()) {
                    assert_eq!(u64::from(iv.start), w[0].as_u64().unwrap());
                    assert_eq!(u64::from(iv.end), w[1].as_u64().unwrap());
                    assert_eq!(f64::from(iv.value), f(&w[2]));
                }
                let vals = &c["values_from_first_interval_start_20bp"];
                let start = vals["start"].as_u64().unwrap();
                let got_vals = file.values(name, start, start + 20).unwrap();
                for (g, w) in got_vals.iter().zip(vals["values"].as_array().unwrap()) {
                    let w = f(w);
                    assert!(
                        (f64::from(*g) == w) || (g.is_nan() && w.is_nan()),
                        "{name}: {g} vs {w}"
                    );
                }
                let pc = got["per_chrom"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["name"] == name)
                    .unwrap();
                // Values are float32; pyBigWig accumulates them in another order (and its
                // sum is mean * covered), so sums and means agree to float32 precision.
                let f32close =
                    |a: &Value, b: &Value| (f(a) - f(b)).abs() <= 1e-6 * f(b).abs().max(1.0);
                assert!(f32close(&pc["mean"], &c["stats_mean_exact"]), "{name} mean");
                assert!(close(&pc["min"], &c["stats_min_exact"]));
                assert!(close(&pc["max"], &c["stats_max_exact"]));
                assert!(f32close(&pc["sum"], &c["stats_sum_exact"]), "{name} sum");
                // pyBigWig's exact std is the sample std (n - 1)
                assert!(
                    f32close(&pc["std_sample"], &c["stats_std_exact"]),
                    "{name} std"
                );
                let cov = pc["covered"].as_f64().unwrap() / len as f64;
                assert!((cov - f(&c["stats_coverage_exact"])).abs() < 1e-15);
                // --region over the whole chromosome gives the same numbers
                let opts = ProbeOptions {
                    region: Some(format!("{name}:0-{len}")),
                    ..Default::default()
                };
                let r = probe(&p, &opts).unwrap();
                assert!(f32close(&r["interval"]["mean"], &c["stats_mean_exact"]));
                assert!(
                    (f(&r["interval"]["coverage"]) - f(&c["stats_coverage_exact"])).abs() < 1e-15
                );
            } else {
                assert_eq!(got["format"], "bigbed");
                let es = file.entries(name, 0, len).unwrap();
                assert_eq!(es.len() as u64, c["n_entries"].as_u64().unwrap());
                for (e, w) in es.iter().zip(c["first5_entries"].as_array().unwrap()) {
                    assert_eq!(u64::from(e.start), w[0].as_u64().unwrap());
                    assert_eq!(u64::from(e.end), w[1].as_u64().unwrap());
                    assert_eq!(e.rest, w[2].as_str().unwrap());
                }
                assert_eq!(file.autosql().as_deref(), exp["SQL"].as_str());
            }
        }
    }
}
