//! `bomdata probe` reports for FASTA, 2bit, BAM, BED, GTF/GFF3, bigWig and bigBed
//! (see PROBE.md: Sequences, Alignments, Intervals and tracks).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use bomdata_format_core::ProbeOptions;
use bomdata_format_core::compression::Compression;
use bomdata_format_core::json_f64;
use serde_json::{Map, Value, json};

use crate::bbi::{BbiFile, Kind};
use crate::error::{Error, Region, invalid};
use crate::fasta::{Composition, FaiStatus, IndexedFasta, indexed::GziStatus};
use crate::twobit::TwoBit;
use crate::{bam, bed, gff};

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn head(path: &Path, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    let got = std::fs::File::open(path)
        .and_then(|mut f| {
            let mut got = 0;
            while got < n {
                let k = f.read(&mut v[got..])?;
                if k == 0 {
                    break;
                }
                got += k;
            }
            Ok(got)
        })
        .unwrap_or(0);
    v.truncate(got);
    v
}

/// The probe format name when this crate handles the file (by extension, then magic bytes).
pub fn detect(path: &Path) -> Option<&'static str> {
    let name = lower_name(path);
    let base = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".bgz"))
        .unwrap_or(&name);
    let ext = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let by_ext = match ext {
        "fa" | "fasta" | "fna" | "ffn" | "fas" | "mfa" => Some("fasta"),
        "2bit" => Some("2bit"),
        "bam" => Some("bam"),
        "cram" => Some("cram"),
        "bed" | "narrowpeak" | "broadpeak" | "bedgraph" => Some("bed"),
        "gtf" => Some("gtf"),
        "gff" | "gff3" => Some("gff3"),
        "bw" | "bigwig" => Some("bigwig"),
        "bb" | "bigbed" => Some("bigbed"),
        _ => None,
    };
    if by_ext.is_some() {
        return by_ext;
    }
    let h = head(path, 64);
    if h.len() >= 4 {
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        for v in [le, le.swap_bytes()] {
            match v {
                crate::twobit::SIGNATURE => return Some("2bit"),
                crate::bbi::BIGWIG_MAGIC => return Some("bigwig"),
                crate::bbi::BIGBED_MAGIC => return Some("bigbed"),
                _ => {}
            }
        }
        if &h[..4] == b"CRAM" {
            return Some("cram");
        }
    }
    if bomdata_format_core::compression::sniff(&h) == Compression::Bgzf {
        // BAM is BGZF whose content starts with "BAM\1"
        let raw = head(path, 70000);
        let mut first = Vec::new();
        let mut dec = crate::bgzf::Inflater::new();
        if crate::bgzf::decompress_block(&raw, 0, &mut dec, &mut first).is_ok() {
            if first.starts_with(b"BAM\x01") {
                return Some("bam");
            }
            if first.first() == Some(&b'>') {
                return Some("fasta");
            }
        }
    }
    if h.first() == Some(&b'>') {
        return Some("fasta");
    }
    None
}

fn seq_json(name: &str, c: &Composition) -> Value {
    json!({
        "name": name,
        "length": c.length,
        "gc_fraction_of_ACGT": json_f64(c.gc_fraction()),
        "count_N": c.n,
        "count_lowercase": c.lowercase,
    })
}

fn region_json(name: &str, start: u64, end: u64, seq: &[u8]) -> Value {
    json!({"name": name, "start": start, "end": end, "seq": String::from_utf8_lossy(seq)})
}

/// Runs the probe for `path`, returning the PROBE.md object.
pub fn probe(path: &Path, opts: &ProbeOptions) -> io::Result<Value> {
    let format = detect(path).ok_or_else(|| {
        invalid(
            Error::Fasta,
            format!("{}: not a genomic format this reader knows", path.display()),
        )
    })?;
    let region = opts.region.as_deref().map(Region::parse).transpose()?;
    let mut out = match format {
        "fasta" => probe_fasta(path, region.as_ref())?,
        "2bit" => probe_twobit(path, region.as_ref())?,
        "bam" => alignments_json(&bam::summarize(path, 5)?),
        // the reference: --reference, else a FASTA next to the CRAM with its stem (x.fa)
        "cram" => alignments_json(&crate::cram::summarize(path, opts.reference.as_deref(), 5)?),
        "bed" => probe_bed(path)?,
        "gtf" | "gff3" => probe_gff(path, format)?,
        _ => probe_bbi(path, region.as_ref())?,
    };
    if let Value::Object(m) = &mut out {
        let mut full = Map::new();
        full.insert("format".into(), Value::from(format));
        full.insert(
            "path".into(),
            Value::from(path.to_string_lossy().into_owned()),
        );
        if format == "bigwig" || format == "bigbed" {
            full["format"] = m.remove("format").unwrap_or(Value::from(format));
        }
        full.extend(std::mem::take(m));
        return Ok(Value::Object(full));
    }
    Ok(out)
}

fn probe_fasta(path: &Path, region: Option<&Region>) -> io::Result<Value> {
    let mut fa = IndexedFasta::open(path)?;
    let mut seqs = Vec::new();
    let mut buf = Vec::new();
    let names: Vec<String> = fa.sequences().iter().map(|r| r.name.clone()).collect();
    for name in &names {
        fa.fetch_all(name, &mut buf)?;
        seqs.push(seq_json(name, &Composition::of(&buf)));
    }
    let fai = match fa.fai_status() {
        FaiStatus::Built => json!({"shipped": false, "used": "built"}),
        FaiStatus::ShippedAgrees => json!({"shipped": true, "agrees": true, "used": "shipped"}),
        FaiStatus::ShippedIgnored(why) => {
            json!({"shipped": true, "agrees": false, "used": "built", "why": why})
        }
    };
    let mut m = json!({
        "bgzf": fa.compression() == Compression::Bgzf,
        "gzip": fa.compression() == Compression::Gzip,
        "sequences": seqs,
        "fai": fai,
    });
    match fa.gzi_status() {
        GziStatus::None => {}
        GziStatus::ShippedAgrees => m["gzi"] = json!({"shipped": true, "agrees": true}),
        GziStatus::ShippedIgnored(why) => {
            m["gzi"] = json!({"shipped": true, "agrees": false, "why": why})
        }
    }
    if let Some(r) = region {
        fa.fetch(&r.name, r.start, r.end, &mut buf)?;
        m["region"] = region_json(&r.name, r.start, r.end, &buf);
    }
    Ok(m)
}

fn probe_twobit(path: &Path, region: Option<&Region>) -> io::Result<Value> {
    let tb = TwoBit::open(path)?;
    let mut seqs = Vec::new();
    let mut buf = Vec::new();
    for s in tb.sequences() {
        tb.fetch(&s.name, 0, s.length, &mut buf)?;
        seqs.push(seq_json(&s.name, &Composition::of(&buf)));
    }
    let mut m = json!({
        "byte_order": if tb.big_endian() { "big" } else { "little" },
        "version": tb.version(),
        "sequences": seqs,
    });
    if let Some(r) = region {
        tb.fetch(&r.name, r.start, r.end, &mut buf)?;
        m["region"] = region_json(&r.name, r.start, r.end, &buf);
    }
    Ok(m)
}

fn alignments_json(s: &bam::Summary) -> Value {
    json!({
        "references": s.references.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        "lengths": s.references.iter().map(|r| r.1).collect::<Vec<_>>(),
        "n_records": s.n_records,
        "n_unmapped_flag": s.n_unmapped_flag,
        "n_secondary": s.n_secondary,
        "n_supplementary": s.n_supplementary,
        "first_records": s.first_records.iter().map(bam::BriefRecord::to_json).collect::<Vec<_>>(),
    })
}

fn first_seen(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names.filter(|n| seen.insert(n.clone())).collect()
}

fn probe_bed(path: &Path) -> io::Result<Value> {
    let (r, _) = bomdata_format_core::compression::open(path)?;
    let mut rd = bed::Reader::new(r);
    let recs: Vec<bed::Record> = rd.records().collect::<io::Result<_>>()?;
    Ok(json!({
        "n_records": recs.len(),
        "chroms": first_seen(recs.iter().map(|r| r.chrom.clone())),
        "sum_length": recs.iter().map(|r| r.end - r.start).sum::<u64>(),
        "n_skipped_lines": rd.n_skipped(),
    }))
}

fn probe_gff(path: &Path, format: &str) -> io::Result<Value> {
    let (r, _) = bomdata_format_core::compression::open(path)?;
    let dialect = if format == "gtf" {
        gff::Dialect::Gtf
    } else {
        gff::Dialect::Gff3
    };
    let mut rd = gff::Reader::new(r, dialect);
    let recs: Vec<gff::Record> = rd.records().collect::<io::Result<_>>()?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for r in &recs {
        *counts.entry(r.feature_type.clone()).or_default() += 1;
    }
    Ok(json!({
        "n_records": recs.len(),
        "chroms": first_seen(recs.iter().map(|r| r.seqid.clone())),
        "sum_length": recs.iter().map(|r| r.end - r.start).sum::<u64>(),
        "feature_type_counts": counts,
        "n_skipped_lines": rd.n_skipped(),
    }))
}

fn probe_bbi(path: &Path, region: Option<&Region>) -> io::Result<Value> {
    let f = BbiFile::open(path)?;
    let chroms: Map<String, Value> = f
        .chroms()
        .iter()
        .map(|c| (c.name.clone(), Value::from(c.length)))
        .collect();
    let mut m = json!({
        "format": if f.kind() == Kind::BigWig { "bigwig" } else { "bigbed" },
        "version": f.header().version,
        "zoom_levels": f.header().zoom_levels,
        "compressed": f.header().uncompress_buf_size > 0,
        "chroms": chroms,
    });
    if let Some(s) = f.summary() {
        m["summary"] = json!({"bases_covered": s.bases_covered, "min": json_f64(s.min), "max": json_f64(s.max),
                              "sum": json_f64(s.sum), "sum_squares": json_f64(s.sum_squares)});
    }
    match f.kind() {
        Kind::BigWig => {
            let mut per = Vec::new();
            for c in f.chroms() {
                let ivs = f.intervals(&c.name, 0, c.length)?;
                let st = f.stats(&c.name, 0, c.length)?;
                let n = st.covered as f64;
                let std_sample = if st.covered > 1 {
                    let mean = st.sum / n;
                    json_f64(
                        ((st.sum_squares - n * mean * mean) / (n - 1.0))
                            .max(0.0)
                            .sqrt(),
                    )
                } else {
                    Value::Null
                };
                per.push(json!({
                    "name": c.name, "n_intervals": ivs.len(), "covered": st.covered,
                    "sum": json_f64(st.sum), "mean": st.mean().map(json_f64),
                    "min": (st.covered > 0).then(|| json_f64(st.min)),
                    "max": (st.covered > 0).then(|| json_f64(st.max)),
                    "std_sample": std_sample,
                }));
            }
            m["per_chrom"] = Value::from(per);
            if let Some(r) = region {
                let st = f.stats(&r.name, r.start, r.end)?;
                let len = (r.end - r.start) as f64;
                let cov = (st.covered > 0).then_some(());
                m["interval"] = json!({
                    "name": r.name, "start": r.start, "end": r.end,
                    "mean": st.mean().map(json_f64),
                    "min": cov.map(|_| json_f64(st.min)),
                    "max": cov.map(|_| json_f64(st.max)),
                    "coverage": if len > 0.0 { json_f64(st.covered as f64 / len) } else { Value::Null },
                });
            }
        }
        Kind::BigBed => {
            let mut n = 0usize;
            for c in f.chroms() {
                n += f.entries(&c.name, 0, c.length)?.len();
            }
            m["n_records"] = Value::from(n);
        }
    }
    Ok(m)
}
