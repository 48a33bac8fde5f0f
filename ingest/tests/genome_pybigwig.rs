//! Interop: the bigWig values aligned to windows are exactly what pyBigWig returns for the
//! same coordinates (`bw.values(chrom, start, end)`), on every bigWig fixture.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::collections::HashMap;
use std::process::Command;

use bomdata_genomic::bbi::{BbiFile, Kind};
use bomdata_genomic::twobit::{self, TwoBit};
use bomdata_ingest::sources::genome::windows::{Plan, Spec, Strands, Track, Windower};

const SCRIPT: &str = r#"
import json, math, sys
import pyBigWig
path, coords = sys.argv[1], json.load(open(sys.argv[2]))
bw = pyBigWig.open(path)
out = []
for c, s, e in coords:
    out.append([None if math.isnan(v) else v for v in bw.values(c, s, e)])
json.dump(out, sys.stdout)
"#;

#[test]
fn window_tracks_equal_pybigwig_values() {
    let python = bomdata_testdata::require_python();
    let fx = bomdata_testdata::require_fixtures().join("bigwig");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("values.py");
    std::fs::write(&script, SCRIPT).unwrap();
    // the fixtures plus one bigWig written by our writer (so pyBigWig also checks the writer)
    let ivs: Vec<(u32, u32, u32, f32)> = (0..700u32)
        .map(|i| {
            (
                i / 350,
                (i % 350) * 8,
                (i % 350) * 8 + 1 + i % 5,
                i as f32 * 0.37 - 20.0,
            )
        })
        .collect();
    let written = dir.path().join("written.bw");
    std::fs::write(
        &written,
        bomdata_genomic::bbi::write_bigwig(&[("chrQ", 5000), ("chrR", 4000)], &ivs, true).unwrap(),
    )
    .unwrap();
    let mut paths: Vec<_> = std::fs::read_dir(&fx)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.push(written);
    let mut n_files = 0;
    for p in paths {
        if p.extension().is_none_or(|e| e != "bw") {
            continue;
        }
        let bw = BbiFile::open(&p).unwrap();
        assert_eq!(bw.kind(), Kind::BigWig);
        // a synthetic genome with the track's chromosomes, each cut to 3000 bases
        let seqs: Vec<(String, Vec<u8>)> = bw
            .chroms()
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    (0..c.length.min(3000))
                        .map(|i| b"ACGTn"[(i % 5) as usize])
                        .collect(),
                )
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = seqs
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let tb = TwoBit::from_bytes(twobit::write(&refs, false, 0).unwrap()).unwrap();
        let spec = Spec {
            length: 128,
            stride: 97,
            strands: Strands::Forward,
            ..Spec::default()
        };
        let mut w = Windower::new(tb, Plan::Fixed(spec)).with_track(Track {
            file: bw,
            rename: HashMap::new(),
        });
        let mut coords = Vec::new();
        let mut ours = Vec::new();
        w.for_each(|x| {
            coords.push((x.chrom.clone(), x.start, x.end));
            ours.push(x.track.clone().unwrap());
            Ok(())
        })
        .unwrap();
        let cfile = dir.path().join("coords.json");
        std::fs::write(&cfile, serde_json::to_string(&coords).unwrap()).unwrap();
        let out = Command::new(&python)
            .arg(&script)
            .arg(&p)
            .arg(&cfile)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pyBigWig failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<Vec<Option<f64>>> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(theirs.len(), ours.len());
        let mut n_values = 0;
        for ((o, t), c) in ours.iter().zip(&theirs).zip(&coords) {
            assert_eq!(o.len(), t.len(), "{c:?}");
            for (i, (a, b)) in o.iter().zip(t).enumerate() {
                match b {
                    None => assert!(a.is_nan(), "{c:?}+{i}: ours {a}, pyBigWig NaN"),
                    Some(b) => {
                        // pyBigWig returns the stored float32 widened to a double: exact match
                        assert_eq!(f64::from(*a), *b, "{c:?}+{i}");
                        n_values += 1;
                    }
                }
            }
        }
        assert!(n_values > 0, "{}: no covered bases compared", p.display());
        n_files += 1;
    }
    assert_eq!(n_files, 3);
}
