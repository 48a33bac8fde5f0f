//! Throughput of the char and 6-mer tokenizers on one core (used by bench/tokenizers/run.sh).
//!
//! Usage: `bench_tokenizers FILE [REPEATS] [WINDOW]`; FILE holds one raw DNA sequence. With WINDOW
//! (bytes), the input is encoded window by window into a reused buffer, as the shard stage does
//! per sample; without it, in one call. Prints one JSON line per tokenizer with the best MB/s
//! over the repeats.

use std::time::Instant;

use bomdata_tokenizers::builtin::builtin;
use bomdata_tokenizers::{CasePolicy, KmerConfig, KmerVocab, TokenizerConfig, UnknownPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: bench_tokenizers FILE [REPEATS]")?;
    let repeats: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let window: usize = args.next().map_or(Ok(0), |s| s.parse())?;
    let window = if window == 0 { usize::MAX } else { window };
    let data = std::fs::read(&path)?;
    let kmer = TokenizerConfig::Kmer(KmerConfig {
        k: 6,
        case: CasePolicy::Upper,
        unknown: UnknownPolicy::Unk,
        vocab: KmerVocab::V1,
        prepend: vec![],
        append: vec![],
    });
    let cases = [
        ("char", builtin("hyena-char").ok_or("no hyena-char")?),
        ("kmer6", kmer),
    ];
    let mut out = Vec::with_capacity(data.len() + 8);
    for (name, cfg) in cases {
        let tok = cfg.build()?;
        let mut best = f64::INFINITY;
        let mut n_ids = 0;
        for _ in 0..repeats {
            n_ids = 0;
            let t = Instant::now();
            for chunk in data.chunks(window.min(data.len().max(1))) {
                out.clear();
                tok.encode_into(chunk, &mut out)?;
                n_ids += std::hint::black_box(&out).len();
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        let mbps = data.len() as f64 / best / 1e6;
        #[allow(clippy::print_stdout)]
        {
            println!(
                r#"{{"tokenizer":"{name}","bytes":{},"ids":{n_ids},"seconds":{best:.6},"mb_per_s":{mbps:.1}}}"#,
                data.len()
            );
        }
    }
    Ok(())
}
