//! Windowing: geometry, splits without leakage, N policy, masks, reverse complement, and
//! aligned bigWig values and interval labels.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::collections::{BTreeMap, HashMap};

use bomdata_genomic::bbi::BbiFile;
use bomdata_genomic::fasta::IndexedFasta;
use bomdata_genomic::sequence::reverse_complement;
use bomdata_genomic::twobit::{self, TwoBit};
use bomdata_ingest::sources::genome::windows::{
    LabelledInterval, Labels, NPolicy, Plan, Spec, SplitBy, Strands, Track, Window, Windower,
};

fn collect<S: bomdata_genomic::sequence::SequenceSource>(w: &mut Windower<S>) -> Vec<Window> {
    let mut v = Vec::new();
    w.for_each(|x| {
        v.push(x.clone());
        Ok(())
    })
    .unwrap();
    v
}

/// Asserts that no base is covered by windows of two different splits.
fn assert_no_leak(ws: &[Window]) {
    let mut by: BTreeMap<(&str, &str), Vec<(u64, u64)>> = BTreeMap::new();
    for w in ws {
        by.entry((w.chrom.as_str(), w.split.as_str()))
            .or_default()
            .push((w.start, w.end));
    }
    // merge per (chrom, split), then check pairwise overlap between splits on a chrom
    let mut merged: BTreeMap<&str, Vec<(u64, u64, &str)>> = BTreeMap::new();
    for ((c, s), mut v) in by {
        v.sort();
        let mut m: Vec<(u64, u64)> = Vec::new();
        for (a, b) in v {
            match m.last_mut() {
                Some(l) if a <= l.1 => l.1 = l.1.max(b),
                _ => m.push((a, b)),
            }
        }
        merged
            .entry(c)
            .or_default()
            .extend(m.into_iter().map(|(a, b)| (a, b, s)));
    }
    for (c, mut v) in merged {
        v.sort();
        for p in v.windows(2) {
            assert!(
                p[1].0 >= p[0].1,
                "{c}: {:?} and {:?} share bases",
                p[0],
                p[1]
            );
        }
    }
}

fn genome() -> TwoBit {
    let mut a = Vec::new();
    for i in 0..10_000u32 {
        let b = b"ACGT"[(i.wrapping_mul(2654435761) >> 7) as usize % 4];
        a.push(if (i / 500) % 3 == 1 {
            b.to_ascii_lowercase()
        } else {
            b
        });
    }
    for x in &mut a[3000..3400] {
        *x = b'N';
    }
    let b: Vec<u8> = a.iter().rev().copied().collect();
    TwoBit::from_bytes(twobit::write(&[("chr1", &a), ("chr2", &b[..7000])], false, 0).unwrap())
        .unwrap()
}

#[test]
fn fixed_windows_by_chromosome() {
    let map = HashMap::from([("chr2".to_string(), "test".to_string())]);
    let spec = Spec {
        length: 1000,
        stride: 600,
        split: SplitBy::Chromosome {
            map,
            default: "train".into(),
        },
        ..Spec::default()
    };
    let g = genome();
    let mut w = Windower::new(g, Plan::Fixed(spec));
    let ws = collect(&mut w);
    let n1 = (10_000 - 1000) / 600 + 1;
    let n2 = (7000 - 1000) / 600 + 1;
    assert_eq!(ws.len(), n1 + n2);
    let g = genome();
    let mut buf = Vec::new();
    for x in &ws {
        g.fetch(&x.chrom, x.start, x.end, &mut buf).unwrap();
        assert_eq!(x.seq, buf);
        assert_eq!(x.split, if x.chrom == "chr2" { "test" } else { "train" });
        for (i, &c) in x.seq.iter().enumerate() {
            assert_eq!(
                (x.softmask[i / 8] >> (i % 8)) & 1 == 1,
                c.is_ascii_lowercase()
            );
            assert_eq!((x.nmask[i / 8] >> (i % 8)) & 1 == 1, c == b'N');
        }
    }
    assert_no_leak(&ws);
}

#[test]
fn chunked_reads_give_the_same_windows() {
    // tiny chunks: every window crosses chunk boundaries; strides below, equal to and above
    // the window length; both sources
    for (len, stride) in [(100, 37), (100, 100), (64, 250)] {
        let spec = Spec {
            length: len,
            stride,
            ..Spec::default()
        };
        let mut whole = Windower::new(genome(), Plan::Fixed(spec.clone()));
        let mut chunked = Windower::new(genome(), Plan::Fixed(spec)).with_chunk_bases(33);
        let (a, b) = (collect(&mut whole), collect(&mut chunked));
        assert_eq!(a, b);
        let g = genome();
        let mut buf = Vec::new();
        for x in &b {
            g.fetch(&x.chrom, x.start, x.end, &mut buf).unwrap();
            assert_eq!(x.seq, buf);
        }
    }
    let fx = bomdata_testdata::require_fixtures();
    let spec = Spec {
        length: 500,
        stride: 130,
        ..Spec::default()
    };
    let mut w = Windower::new(
        IndexedFasta::open(&fx.join("fasta/phi-X174.fa.gz")).unwrap(),
        Plan::Fixed(spec),
    )
    .with_chunk_bases(77);
    let ws = collect(&mut w);
    let mut fa = IndexedFasta::open(&fx.join("fasta/phi-X174.fa.gz")).unwrap();
    let mut buf = Vec::new();
    for x in &ws {
        fa.fetch(&x.chrom, x.start, x.end, &mut buf).unwrap();
        assert_eq!(x.seq, buf);
    }
    assert_eq!(ws.len(), (5386 - 500) / 130 + 1);
}

#[test]
fn n_policy_and_reverse_complement() {
    let spec = Spec {
        length: 500,
        stride: 250,
        n_policy: NPolicy::SkipAbove(0.1),
        strands: Strands::Both,
        only: vec!["chr1".into()],
        ..Spec::default()
    };
    let mut w = Windower::new(genome(), Plan::Fixed(spec));
    let ws = collect(&mut w);
    // windows overlapping 3000..3400 by more than 50 bases are skipped
    for x in &ws {
        let ov = x.end.min(3400).saturating_sub(x.start.max(3000));
        assert!(ov <= 50, "{}-{}", x.start, x.end);
        assert!(x.n_count <= 50);
    }
    assert!(w.skipped_n() > 0);
    for p in ws.chunks(2) {
        assert_eq!((p[0].strand, p[1].strand), ('+', '-'));
        let mut rc = p[0].seq.clone();
        reverse_complement(&mut rc);
        assert_eq!(rc, p[1].seq);
    }
    let keep = Spec {
        length: 500,
        stride: 250,
        n_policy: NPolicy::Keep,
        only: vec!["chr1".into()],
        ..Spec::default()
    };
    let mut w = Windower::new(genome(), Plan::Fixed(keep));
    assert_eq!(collect(&mut w).len(), (10_000 - 500) / 250 + 1);
}

#[test]
fn interval_splits_never_share_a_base() {
    let iv = |c: &str, s, e, l: &str| LabelledInterval {
        chrom: c.into(),
        start: s,
        end: e,
        label: l.into(),
    };
    let intervals = vec![
        iv("chr1", 0, 2000, "train"),
        iv("chr1", 2000, 2300, "valid"), // short: extended only inside its own run
        iv("chr1", 2300, 2350, "test"),  // run shorter than a window: skipped
        iv("chr1", 2350, 6000, "train"),
        iv("chr1", 6000, 6100, "valid"),
        iv("chr1", 6100, 6500, "valid"),
        iv("chr2", 100, 400, "test"),
        iv("chr2", 900, 950, "valid"),
    ];
    let spec = Spec {
        length: 256,
        stride: 128,
        split: SplitBy::Interval,
        ..Spec::default()
    };
    let mut w = Windower::new(genome(), Plan::Intervals(spec, intervals.clone()));
    let ws = collect(&mut w);
    assert_no_leak(&ws);
    assert_eq!(w.skipped_short(), 2);
    // every window lies inside intervals of its own label
    for x in &ws {
        let ok = intervals
            .iter()
            .filter(|i| i.chrom == x.chrom && i.label == x.split)
            .any(|i| i.start <= x.start)
            && intervals
                .iter()
                .filter(|i| i.chrom == x.chrom && i.label == x.split)
                .any(|i| i.end >= x.end);
        assert!(ok, "{x:?}");
        assert_eq!(x.seq.len(), 256);
    }
    assert!(
        ws.iter()
            .any(|x| x.split == "valid" && x.start >= 2000 && x.end <= 2300)
    );
    // overlapping intervals of different labels are refused
    let bad = vec![iv("chr1", 0, 1000, "train"), iv("chr1", 900, 2000, "test")];
    let spec = Spec {
        length: 256,
        stride: 128,
        split: SplitBy::Interval,
        ..Spec::default()
    };
    let mut w = Windower::new(genome(), Plan::Intervals(spec, bad));
    let e = w.for_each(|_| Ok(())).unwrap_err();
    assert!(e.to_string().contains("two splits"), "{e}");
}

#[test]
fn track_and_labels_align_with_windows() {
    let fx = bomdata_testdata::require_fixtures();
    let fa = IndexedFasta::open(&fx.join("fasta/volvox.fa")).unwrap();
    let bw = BbiFile::open(&fx.join("bigwig/volvox.bw")).unwrap();
    let reference = BbiFile::open(&fx.join("bigwig/volvox.bw")).unwrap();
    let spec = Spec {
        length: 1000,
        stride: 700,
        strands: Strands::Both,
        only: vec!["ctgA".into()],
        ..Spec::default()
    };
    let labels = Labels::new(
        vec!["exon".into(), "CDS".into()],
        [
            ("ctgA".to_string(), 1500, 2500, "exon".to_string()),
            ("ctgA".to_string(), 2000, 2100, "CDS".to_string()),
        ],
    )
    .unwrap();
    let mut w = Windower::new(fa, Plan::Fixed(spec))
        .with_track(Track {
            file: bw,
            rename: HashMap::new(),
        })
        .with_labels(labels);
    let ws = collect(&mut w);
    assert!(!ws.is_empty());
    for x in &ws {
        let mut want = reference.values("ctgA", x.start, x.end).unwrap();
        if x.strand == '-' {
            want.reverse();
        }
        let got = x.track.as_ref().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()));
        }
        let lab = x.labels.as_ref().unwrap();
        for (i, &l) in lab.iter().enumerate() {
            let pos = if x.strand == '-' {
                x.end - 1 - i as u64
            } else {
                x.start + i as u64
            };
            let want = if (2000..2100).contains(&pos) {
                2
            } else if (1500..2500).contains(&pos) {
                1
            } else {
                0
            };
            assert_eq!(l, want, "{pos}");
        }
    }
}

#[test]
fn fasta_and_bgzf_windows_equal_twobit_windows() {
    // IndexedFasta fetches each window straight from its (BGZF block-cached) data; TwoBit is
    // read in chunks: both must give the same windows, on both strands, with the N policy,
    // with 1 or 3 inflate threads, over many small BGZF blocks
    let g = genome();
    let mut text = Vec::new();
    let mut seq = Vec::new();
    for (name, len) in [("chr1", 10_000u64), ("chr2", 7000)] {
        g.fetch(name, 0, len, &mut seq).unwrap();
        text.extend(format!(">{name} test\n").as_bytes());
        for line in seq.chunks(61) {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("g.fa");
    std::fs::write(&plain, &text).unwrap();
    // small blocks: windows cross many block boundaries
    let mut z = Vec::new();
    for part in text.chunks(997) {
        let mut b = bomdata_genomic::bgzf::compress(part, 6);
        b.truncate(b.len() - 28); // drop each part's EOF block
        z.extend(b);
    }
    z.extend(bomdata_genomic::bgzf::compress(&[], 6));
    let gz = dir.path().join("g.fa.gz");
    std::fs::write(&gz, &z).unwrap();
    for (len, stride) in [(100, 37), (128, 128), (64, 250)] {
        let spec = Spec {
            length: len,
            stride,
            strands: Strands::Both,
            n_policy: NPolicy::SkipAbove(0.5),
            ..Spec::default()
        };
        let want = collect(&mut Windower::new(genome(), Plan::Fixed(spec.clone())));
        assert!(!want.is_empty());
        let got = collect(&mut Windower::new(
            IndexedFasta::open(&plain).unwrap(),
            Plan::Fixed(spec.clone()),
        ));
        assert_eq!(got, want, "plain fasta, {len}/{stride}");
        for threads in [1, 3] {
            let mut fa = IndexedFasta::open(&gz).unwrap();
            fa.set_decode_threads(threads);
            let got = collect(&mut Windower::new(fa, Plan::Fixed(spec.clone())));
            assert_eq!(got, want, "bgzf, {len}/{stride}, {threads} threads");
        }
    }
}
