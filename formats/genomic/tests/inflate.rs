//! `bomdata_genomic::inflate` against libdeflate: fixtures, generated data compressed by
//! flate2 (levels 0..=9) and libdeflate (levels 1..=12), and corrupt input.
#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use bomdata_genomic::inflate::{self, Decoder};

/// Small deterministic PRNG (xorshift64*), so the test needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

/// libdeflate's answer: Some(bytes) or None on error.
fn reference(input: &[u8], cap: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; cap];
    let n = libdeflater::Decompressor::new()
        .deflate_decompress(input, &mut out)
        .ok()?;
    out.truncate(n);
    Some(out)
}

/// Ours into a `cap`-byte window of a larger buffer; fails the test if anything past the
/// window changed (an overrun).
fn ours(dec: &mut Decoder, input: &[u8], cap: usize) -> Option<Vec<u8>> {
    const GUARD: usize = 1024;
    let mut buf = vec![0xA5u8; cap + GUARD];
    let r = dec.inflate(input, &mut buf[..cap]);
    assert!(
        buf[cap..].iter().all(|&b| b == 0xA5),
        "wrote past the {cap}-byte output ({} input bytes)",
        input.len()
    );
    let n = r.ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Same bytes as libdeflate on a valid stream, with exactly enough room and with slack.
fn check_valid(dec: &mut Decoder, input: &[u8], expect: &[u8], what: &str) {
    for cap in [expect.len(), expect.len() + 1000] {
        let got = ours(dec, input, cap);
        assert!(
            got.as_deref() == Some(expect),
            "{what}: differs from libdeflate (cap {cap}, {} input bytes)",
            input.len()
        );
    }
    if !expect.is_empty() {
        let mut out = vec![0u8; expect.len() + 1024];
        let short = expect.len() - 1;
        assert_eq!(
            dec.inflate(input, &mut out[..short]),
            Err(inflate::InflateError::OutputTooSmall),
            "{what}: one byte short of room"
        );
        assert!(
            out[short..].iter().all(|&b| b == 0),
            "{what}: wrote past the output"
        );
    }
    // much too small outputs (the fast loop must not run at all there)
    for cap in [0usize, 1, 2, 3, 7, 100, 289, 290, 291] {
        if cap < expect.len() {
            assert_eq!(ours(dec, input, cap), None, "{what}: {cap}-byte output");
        }
    }
}

fn dna(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    let mut lower = false;
    while v.len() < n {
        if rng.below(500) == 0 {
            lower = !lower;
        }
        let b = match rng.below(100) as usize {
            0..=1 => b'N',
            2 => b'\n',
            r => b"ACGT"[r % 4],
        };
        v.push(if lower { b.to_ascii_lowercase() } else { b });
        if rng.below(3000) == 0 {
            let run = 1 + rng.below(2000) as usize;
            v.extend(std::iter::repeat_n(b'N', run));
        }
    }
    v.truncate(n);
    v
}

fn samples() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(7);
    let mut v: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"A".to_vec(),
        b"ACGT".repeat(1000),
        vec![0u8; 70_000],
    ];
    for &n in &[10usize, 100, 1000, 5000, 65_280, 150_000] {
        v.push(dna(&mut rng, n));
        v.push((0..n).map(|_| rng.byte()).collect());
        // text with a small alphabet and short repeats
        v.push((0..n).map(|_| b"ab cd\n"[rng.below(6) as usize]).collect());
    }
    v
}

fn flate2_raw(data: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn libdeflate_raw(data: &[u8], level: i32) -> Vec<u8> {
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap());
    let mut out = vec![0u8; c.deflate_compress_bound(data.len())];
    let n = c.deflate_compress(data, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn roundtrip_flate2_and_libdeflate_levels() {
    let mut dec = Decoder::new();
    for (k, data) in samples().iter().enumerate() {
        for level in 0..=9 {
            let z = flate2_raw(data, level);
            check_valid(
                &mut dec,
                &z,
                data,
                &format!("sample {k} flate2 level {level}"),
            );
        }
        for level in 1..=12 {
            let z = libdeflate_raw(data, level);
            check_valid(
                &mut dec,
                &z,
                data,
                &format!("sample {k} libdeflate level {level}"),
            );
        }
    }
}

/// The raw deflate payloads of every gzip member in `data` (BGZF or plain gzip), with the
/// member's ISIZE.
fn gzip_members(data: &[u8]) -> Vec<(&[u8], usize)> {
    let mut v = Vec::new();
    let mut off = 0;
    while off + 18 <= data.len() {
        assert_eq!(&data[off..off + 3], &[0x1f, 0x8b, 8], "gzip magic at {off}");
        let flg = data[off + 3];
        let mut p = off + 10;
        let mut bsize = None;
        if flg & 4 != 0 {
            let xlen = usize::from(u16::from_le_bytes([data[p], data[p + 1]]));
            let extra = &data[p + 2..p + 2 + xlen];
            let mut q = 0;
            while q + 4 <= extra.len() {
                let slen = usize::from(u16::from_le_bytes([extra[q + 2], extra[q + 3]]));
                if &extra[q..q + 2] == b"BC" {
                    bsize = Some(usize::from(u16::from_le_bytes([extra[q + 4], extra[q + 5]])) + 1);
                }
                q += 4 + slen;
            }
            p += 2 + xlen;
        }
        for flag in [8u8, 16] {
            if flg & flag != 0 {
                while data[p] != 0 {
                    p += 1;
                }
                p += 1;
            }
        }
        if flg & 2 != 0 {
            p += 2;
        }
        // BGZF gives the member size; a plain gzip file is taken as one member
        let end = bsize.map_or(data.len(), |b| off + b);
        let isize = u32::from_le_bytes(data[end - 4..end].try_into().unwrap()) as usize;
        v.push((&data[p..end - 8], isize));
        off = end;
    }
    v
}

#[test]
fn fixture_gzip_members_match_libdeflate() {
    let root = bomdata_testdata::require_fixtures();
    let mut files = Vec::new();
    for dir in ["fasta", "bam", "nifti"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().to_string();
            if name.ends_with(".gz") || name.ends_with(".bam") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 3,
        "expected gzip/BGZF fixtures, found {files:?}"
    );
    let mut dec = Decoder::new();
    let mut members = 0;
    for path in &files {
        let data = std::fs::read(path).unwrap();
        for (k, (payload, isize)) in gzip_members(&data).into_iter().enumerate() {
            let expect = reference(payload, isize).unwrap();
            check_valid(
                &mut dec,
                payload,
                &expect,
                &format!("{} member {k}", path.display()),
            );
            members += 1;
        }
    }
    assert!(members > 10);
}

/// The benchmark genome's generator (`ingest/examples/bench_genomic.rs gen`), smaller: random
/// ACGT with soft-masked runs, N gaps, 60-column lines; BGZF level 6 as the benchmark writes.
fn bench_like_genome(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut text = b">chr1 synthetic\n".to_vec();
    let mut seq = Vec::with_capacity(len);
    let mut lower = false;
    while seq.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let r = state;
        if r.is_multiple_of(97) {
            lower = !lower;
        }
        for k in 0..16 {
            let b = b"ACGT"[((r >> (2 * k)) & 3) as usize];
            seq.push(if lower { b.to_ascii_lowercase() } else { b });
        }
    }
    seq.truncate(len);
    seq[..len / 100].fill(b'N');
    let mut p = len / 3;
    while p + 3000 < seq.len() {
        seq[p..p + 3000].fill(b'N');
        p += len / 3;
    }
    for line in seq.chunks(60) {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    text
}

#[test]
fn bench_like_bgzf_blocks_match_libdeflate() {
    let text = bench_like_genome(1_500_000);
    let z = bomdata_genomic::bgzf::compress(&text, 6);
    let mut dec = Decoder::new();
    let mut at = 0;
    let members = gzip_members(&z);
    assert!(members.len() > 20);
    for (k, (payload, isize)) in members.into_iter().enumerate() {
        let expect = &text[at..at + isize];
        assert_eq!(reference(payload, isize).as_deref(), Some(expect));
        check_valid(&mut dec, payload, expect, &format!("bgzf block {k}"));
        at += isize;
    }
    assert_eq!(at, text.len());
}

/// Ours on corrupt input: never panics; where libdeflate fails, ours fails too or (allowed,
/// the BGZF CRC catches it) returns some bytes; where both succeed, the bytes agree.
/// Returns whether ours accepted something libdeflate rejected.
fn check_corrupt(dec: &mut Decoder, input: &[u8], cap: usize, what: &str) -> bool {
    let theirs = reference(input, cap);
    let got = ours(dec, input, cap);
    match (&got, &theirs) {
        (Some(a), Some(b)) => {
            assert!(a == b, "{what}: both accept, different bytes");
            false
        }
        (None, Some(_)) => panic!("{what}: libdeflate accepts, ours rejects"),
        (Some(_), None) => true,
        (None, None) => false,
    }
}

#[test]
fn truncated_streams_fail() {
    let mut dec = Decoder::new();
    let mut rng = Rng::new(11);
    let data = dna(&mut rng, 3000);
    let mut streams = vec![
        flate2_raw(&data, 0),
        flate2_raw(&data, 1),
        flate2_raw(&data, 6),
        libdeflate_raw(&data, 12),
        libdeflate_raw(&b"ACGT".repeat(300), 6),
    ];
    // a fixed-code block
    streams.push(flate2_raw(b"hello hello hello", 9));
    for (s, z) in streams.iter().enumerate() {
        for cut in 0..z.len() {
            let t = &z[..cut];
            assert!(
                !check_corrupt(
                    &mut dec,
                    t,
                    data.len() + 100,
                    &format!("stream {s} cut {cut}")
                ),
                "stream {s} cut at {cut}: ours accepted a truncated stream"
            );
        }
    }
}

#[test]
fn bit_flips_and_garbage_never_panic() {
    let mut dec = Decoder::new();
    // INFLATE_FUZZ_SCALE=N runs N times as many cases, from a seed that depends on N
    let scale: usize = std::env::var("INFLATE_FUZZ_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng::new(5 + scale as u64);
    let data = dna(&mut rng, 4000);
    let streams = [
        flate2_raw(&data, 6),
        libdeflate_raw(&data, 12),
        flate2_raw(&data, 1),
        flate2_raw(b"hello hello hello", 9),
    ];
    let mut lenient = 0;
    let mut total = 0;
    for (s, z) in streams.iter().enumerate() {
        for k in 0..1500 * scale {
            let mut c = z.clone();
            for _ in 0..1 + rng.below(3) {
                let bit = rng.below(c.len() as u64 * 8) as usize;
                c[bit / 8] ^= 1 << (bit % 8);
            }
            let cap = if k % 2 == 0 {
                data.len()
            } else {
                data.len() + 5000
            };
            lenient += usize::from(check_corrupt(
                &mut dec,
                &c,
                cap,
                &format!("stream {s} flip {k}"),
            ));
            total += 1;
        }
    }
    for k in 0..3000 * scale {
        let n = rng.below(300) as usize;
        let mut g: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
        // mostly dynamic-block headers, so the Huffman-table code gets garbage to chew on
        if let Some(b) = g.first_mut()
            && k % 2 == 0
        {
            *b = (*b & !6) | 4;
        }
        lenient += usize::from(check_corrupt(
            &mut dec,
            &g,
            1 + rng.below(70_000) as usize,
            &format!("garbage {k}"),
        ));
        total += 1;
    }
    // ours follows libdeflate's acceptance rules, so it should be as strict
    assert_eq!(
        lenient, 0,
        "{lenient} of {total} corrupt inputs accepted only by ours"
    );
}

#[test]
fn random_roundtrips() {
    let mut dec = Decoder::new();
    let mut rng = Rng::new(99);
    for case in 0..40i32 {
        let n = rng.below(20_000) as usize;
        let data = match case % 4 {
            0 => (0..n).map(|_| rng.byte()).collect(),
            1 => dna(&mut rng, n),
            // few symbols with skewed frequencies: long and short codes, subtables
            2 => (0..n)
                .map(|_| {
                    let r = rng.below(1 << 16);
                    (r.leading_zeros() as u8).wrapping_mul(7)
                })
                .collect(),
            _ => {
                let mut v = dna(&mut rng, n / 2);
                let copy = v.clone();
                v.extend_from_slice(&copy);
                v
            }
        };
        let level = (case % 10) as u32;
        let z = flate2_raw(&data, level);
        check_valid(&mut dec, &z, &data, &format!("case {case} flate2 {level}"));
        let level = 1 + case % 12;
        let z = libdeflate_raw(&data, level);
        check_valid(
            &mut dec,
            &z,
            &data,
            &format!("case {case} libdeflate {level}"),
        );
    }
}
