//! Synthetic genome trees: seeded FASTA sequences with soft-masked and N runs, and the
//! `genome.toml` that sets windows and chromosome splits.

use std::path::Path;

use crate::files::put;

/// `n` bases from `rng`: mostly upper-case ACGT, soft-masked (lower-case) runs and N runs.
pub fn dna(rng: &mut crate::Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let run = 1 + rng.below(200) as usize;
        let kind = rng.below(10);
        for _ in 0..run.min(n - out.len()) {
            let b = b"ACGT"[rng.below(4) as usize];
            out.push(match kind {
                0 => b'N',
                1 | 2 => b.to_ascii_lowercase(),
                _ => b,
            });
        }
    }
    out
}

/// FASTA text of `records` (name, sequence), 60 bases a line.
pub fn fasta(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, seq) in records {
        out.push(b'>');
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
        for line in seq.chunks(60) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out
}

/// An assembly tree: `T2T-CHM13v2.0.fa` with chr1 (3000 bp), chr2 (1700 bp), chr3 (1300 bp)
/// and chrM (500 bp) of seeded DNA, and a `genome.toml` with 256 bp windows at stride 200,
/// chr2 in valid and chr3 in test.
pub fn assembly_tree(root: &Path) {
    let mut rng = crate::Rng::new(42);
    let seqs: Vec<(&str, Vec<u8>)> = [
        ("chr1", 3000),
        ("chr2", 1700),
        ("chr3", 1300),
        ("chrM", 500),
    ]
    .into_iter()
    .map(|(name, n)| (name, dna(&mut rng, n)))
    .collect();
    let records: Vec<(&str, &[u8])> = seqs.iter().map(|(n, s)| (*n, s.as_slice())).collect();
    put(root, "T2T-CHM13v2.0.fa", fasta(&records));
    put(
        root,
        "genome.toml",
        "assembly = \"T2T-CHM13v2.0\"\nwindow = 256\nstride = 200\n\
         splits = { chr2 = \"valid\", chr3 = \"test\" }\n",
    );
}
