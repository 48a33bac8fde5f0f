//! The `genome` adapter: reference assemblies (T2T-CHM13v2.0, GRCh38, with chromosome-name
//! aliases) and genome collections (a folder of FASTA files plus a taxonomy TSV) cut into DNA
//! windows (`genome/1`).
//!
//! Tree layout (everything optional except the sequence files):
//!
//! ```text
//! ROOT/genome.toml        window settings (below); defaults: 1024 bp windows, stride 1024
//! ROOT/*.fa|.fasta|.fna[.gz]|.2bit   one genome per file
//! ROOT/taxonomy.tsv       collections: columns genome, species, taxid, lineage (header row);
//!                         `genome` matches a file's accession (GCF_/GCA_ prefix) or file stem
//! ROOT/*.bam|*.cram       read files (long or short reads, aligned or not): one unit each,
//!                         cut into read windows (the `[reads]` table below)
//! ```
//!
//! `genome.toml`:
//!
//! ```toml
//! assembly = "T2T-CHM13v2.0"   # else guessed from the file name or the sequence names
//! window = 1024                # bases
//! stride = 1024
//! max_n_fraction = 0.5         # skip windows with more N; absent = keep every window
//! strands = "forward"          # or "reverse", "both"
//! complement = "acgt"          # reverse strand: ACGTacgt only, other codes kept (HyenaDNA,
//!                              # Caduceus; the default), or "iupac" (R↔Y, K↔M, B↔V, D↔H too)
//! seq_format = "txt"           # seq.txt; or "npy" (uint8 ASCII codes in seq.npy)
//! intervals = "sequences_human.bed"  # Basenji-style chrom/start/end/split: split by interval
//! splits = { chr8 = "valid", chr9 = "test" }  # split by chromosome (others: train)
//! track = "signal.bw"          # per-base values in track.npy
//! labels = "genes.gtf"         # per-base classes in labels.npy (GTF/GFF3 types or BED names)
//! label_classes = ["exon", "CDS"]
//!
//! [reads]                      # read files (BAM, CRAM)
//! window = 1000                # fixed windows along each read; absent = whole reads
//! stride = 1000
//! max_length = 100000          # whole reads are cut to this many bases
//! min_length = 1               # shorter reads are skipped
//! quality = true               # qual.npy (phred, uint8)
//! include_secondary = false    # secondary/supplementary records repeat primary bases
//! original_orientation = true  # reverse-strand reads back to the sequencer's orientation
//! reference = "ref.fa"         # CRAM reference; default: a FASTA next to the CRAM (x.fa)
//! ```
//!
//! Read windows: `seq.txt` (or `seq.npy`), optional `qual.npy`, `meta.json` with the read's
//! mapping (reference, 0-based position, strand, MAPQ, flag), its ordinal in the file and the
//! window's offset in the read. Read names are written only with `keep_identity`; the read
//! file's stem is the subject (pseudonymised). The split follows `splits` by the read's
//! reference (canonical name), else `train`.
//!
//! One unit is one sequence (chromosome or contig) of one file. Sequence names in the FASTA,
//! the BED, the bigWig and the GTF are matched through the assembly's alias table, so a FASTA
//! with `NC_060925.1` windows against a track that says `chr1`. Samples are blocks of
//! consecutive windows of one sequence and one split (`genome/2`, see
//! [`bomdata_schemas::genome`]): `seq.txt` (or `seq.npy`) with the windows' bases concatenated,
//! `softmask.npy` and `nmask.npy` packed over them, optional `track.npy` and `labels.npy`,
//! `meta.json` with the windows as columns. A subject row counts blocks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bomdata_genomic::bbi::BbiFile;
use bomdata_genomic::fasta::IndexedFasta;
use bomdata_genomic::fasta::indexed::IndexCheck;
use bomdata_genomic::sequence::{ComplementTable, SequenceSource};
use bomdata_genomic::twobit::TwoBit;
use bomdata_schemas::genome::{
    ReadWindow as ReadWindowMeta, Taxonomy, TrackInfo, WindowBlock as WindowMeta,
};
use bomdata_schemas::key::{KeyParts, make};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_schemas::{Modality, Provenance};
use bomdata_shard::{Sample, npy};
use serde::Deserialize;

use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

pub mod block;
pub mod reads;
pub mod windows;

use block::{BlockBuf, BlockData};
use windows::{
    LabelledInterval, Labels, NPolicy, Plan, Spec, SplitBy, Strands, Track, Window, Windower,
};

/// Chromosome aliases of the registered assemblies, as data:
/// `assembly, canonical (UCSC), Ensembl/NCBI short name, RefSeq accession, GenBank accession`.
///
/// Cross-checked (2026-11-29) against public code that carries NCBI's tables; no row changed:
/// - GRCh38: NCBI assembly-report rows (`GCF_000001405` GRCh38.p13 `assembly_report.txt`,
///   columns GenBank-Accn `=` RefSeq-Accn) quoted in monarch-initiative/svart `Contig.java`
///   (chr1 `CM000663.2`/`NC_000001.11`, chr22, X, Y, and MT `J01415.2`/`NC_012920.1`), and
///   full 24-row `NC_0000xx` → `CM0006xx` maps in other public scripts: every row agrees.
/// - T2T-CHM13v2.0: `GCA_009914755.4` FASTA headers (`CP068277.2` chromosome 1 ...
///   `CP068255.2` X, `CP086569.2` Y from NA24385, `CP068254.1` mitochondrion) and
///   `GCF_009914755.1` maps `NC_060925.1` = chr1 ... `NC_060947.1` = chrX,
///   `NC_060948.1` = chrY: every row agrees. The T2T chrM row (`NC_012920.1`) agrees with a
///   public TxDb build script's map for `GCF_009914755.1` "per NCBI's assembly report",
///   which notes that the RefSeq chrM is the rCRS. That record is not CHM13's own
///   mitochondrion (`CP068254.1`), so the two names can hold different bases: the alias maps
///   names only, each window records the file's own name (`source_chrom`) beside the
///   canonical one, and [`guess_assembly`] never decides an assembly from a mitochondrion
///   name.
pub const ALIASES_TSV: &str = "\
T2T-CHM13v2.0\tchr1\t1\tNC_060925.1\tCP068277.2
T2T-CHM13v2.0\tchr2\t2\tNC_060926.1\tCP068276.2
T2T-CHM13v2.0\tchr3\t3\tNC_060927.1\tCP068275.2
T2T-CHM13v2.0\tchr4\t4\tNC_060928.1\tCP068274.2
T2T-CHM13v2.0\tchr5\t5\tNC_060929.1\tCP068273.2
T2T-CHM13v2.0\tchr6\t6\tNC_060930.1\tCP068272.2
T2T-CHM13v2.0\tchr7\t7\tNC_060931.1\tCP068271.2
T2T-CHM13v2.0\tchr8\t8\tNC_060932.1\tCP068270.2
T2T-CHM13v2.0\tchr9\t9\tNC_060933.1\tCP068269.2
T2T-CHM13v2.0\tchr10\t10\tNC_060934.1\tCP068268.2
T2T-CHM13v2.0\tchr11\t11\tNC_060935.1\tCP068267.2
T2T-CHM13v2.0\tchr12\t12\tNC_060936.1\tCP068266.2
T2T-CHM13v2.0\tchr13\t13\tNC_060937.1\tCP068265.2
T2T-CHM13v2.0\tchr14\t14\tNC_060938.1\tCP068264.2
T2T-CHM13v2.0\tchr15\t15\tNC_060939.1\tCP068263.2
T2T-CHM13v2.0\tchr16\t16\tNC_060940.1\tCP068262.2
T2T-CHM13v2.0\tchr17\t17\tNC_060941.1\tCP068261.2
T2T-CHM13v2.0\tchr18\t18\tNC_060942.1\tCP068260.2
T2T-CHM13v2.0\tchr19\t19\tNC_060943.1\tCP068259.2
T2T-CHM13v2.0\tchr20\t20\tNC_060944.1\tCP068258.2
T2T-CHM13v2.0\tchr21\t21\tNC_060945.1\tCP068257.2
T2T-CHM13v2.0\tchr22\t22\tNC_060946.1\tCP068256.2
T2T-CHM13v2.0\tchrX\tX\tNC_060947.1\tCP068255.2
T2T-CHM13v2.0\tchrY\tY\tNC_060948.1\tCP086569.2
T2T-CHM13v2.0\tchrM\tMT\tNC_012920.1\tCP068254.1
GRCh38\tchr1\t1\tNC_000001.11\tCM000663.2
GRCh38\tchr2\t2\tNC_000002.12\tCM000664.2
GRCh38\tchr3\t3\tNC_000003.12\tCM000665.2
GRCh38\tchr4\t4\tNC_000004.12\tCM000666.2
GRCh38\tchr5\t5\tNC_000005.10\tCM000667.2
GRCh38\tchr6\t6\tNC_000006.12\tCM000668.2
GRCh38\tchr7\t7\tNC_000007.14\tCM000669.2
GRCh38\tchr8\t8\tNC_000008.11\tCM000670.2
GRCh38\tchr9\t9\tNC_000009.12\tCM000671.2
GRCh38\tchr10\t10\tNC_000010.11\tCM000672.2
GRCh38\tchr11\t11\tNC_000011.10\tCM000673.2
GRCh38\tchr12\t12\tNC_000012.12\tCM000674.2
GRCh38\tchr13\t13\tNC_000013.11\tCM000675.2
GRCh38\tchr14\t14\tNC_000014.9\tCM000676.2
GRCh38\tchr15\t15\tNC_000015.10\tCM000677.2
GRCh38\tchr16\t16\tNC_000016.10\tCM000678.2
GRCh38\tchr17\t17\tNC_000017.11\tCM000679.2
GRCh38\tchr18\t18\tNC_000018.10\tCM000680.2
GRCh38\tchr19\t19\tNC_000019.10\tCM000681.2
GRCh38\tchr20\t20\tNC_000020.11\tCM000682.2
GRCh38\tchr21\t21\tNC_000021.9\tCM000683.2
GRCh38\tchr22\t22\tNC_000022.11\tCM000684.2
GRCh38\tchrX\tX\tNC_000023.11\tCM000685.2
GRCh38\tchrY\tY\tNC_000024.10\tCM000686.2
GRCh38\tchrM\tMT\tNC_012920.1\tJ01415.2
";

/// File-name hints of the registered assemblies (lowercase substrings).
const ASSEMBLY_HINTS: [(&str, &[&str]); 2] = [
    (
        "T2T-CHM13v2.0",
        &[
            "t2t-chm13",
            "chm13",
            "gca_009914755",
            "gcf_009914755",
            "hs1",
        ],
    ),
    (
        "GRCh38",
        &["grch38", "hg38", "gca_000001405", "gcf_000001405"],
    ),
];

/// The alias table of one assembly: any name (exact, or without its `.version`) to canonical.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    map: HashMap<String, String>,
}

impl Aliases {
    /// The aliases of `assembly` from [`ALIASES_TSV`] (empty for an unknown assembly).
    pub fn of(assembly: &str) -> Self {
        let mut map = HashMap::new();
        for line in ALIASES_TSV.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 5 || f[0] != assembly {
                continue;
            }
            for alias in &f[1..] {
                map.insert((*alias).to_string(), f[1].to_string());
                if let Some((stem, _)) = alias.split_once('.') {
                    map.insert(stem.to_string(), f[1].to_string());
                }
            }
            // "chrMT" and "M" are seen too
            if f[1] == "chrM" {
                map.insert("M".into(), "chrM".into());
                map.insert("chrMT".into(), "chrM".into());
            }
        }
        Aliases { map }
    }

    /// The canonical name of `name` (itself when the table does not know it).
    pub fn canonical(&self, name: &str) -> String {
        self.map
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// Whether the table knows `name`.
    pub fn knows(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

/// Guesses the assembly from a file name, then from sequence names.
pub fn guess_assembly(file_name: &str, seq_names: &[String]) -> Option<&'static str> {
    let lower = file_name.to_ascii_lowercase();
    for (asm, hints) in ASSEMBLY_HINTS {
        if hints.iter().any(|h| lower.contains(h)) {
            return Some(asm);
        }
    }
    // accessions are unique to one assembly (NC_0609xx: T2T, NC_0000xx: GRCh38)
    for (asm, _) in ASSEMBLY_HINTS {
        let a = Aliases::of(asm);
        if seq_names.iter().any(|n| {
            (n.starts_with("NC_") || n.starts_with("C"))
                && a.knows(n)
                && n != "chrM"
                && !n.starts_with("NC_012920")
        }) {
            return Some(asm);
        }
    }
    None
}

/// `genome.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Assembly name (`T2T-CHM13v2.0`, `GRCh38`); guessed when absent.
    pub assembly: Option<String>,
    /// Window length in bases (default 1024).
    pub window: Option<u64>,
    /// Stride (default: the window length).
    pub stride: Option<u64>,
    /// Skip windows with a larger fraction of N (absent: keep all).
    pub max_n_fraction: Option<f64>,
    /// `forward` (default), `reverse` or `both`.
    pub strands: Option<String>,
    /// Complement table of the reverse strand: `acgt` (default) or `iupac`.
    pub complement: Option<String>,
    /// `txt` (default) or `npy`.
    pub seq_format: Option<String>,
    /// Basenji-style intervals BED with a split column (relative to the root).
    pub intervals: Option<PathBuf>,
    /// Canonical chromosome name to split, for split by chromosome.
    #[serde(default)]
    pub splits: HashMap<String, String>,
    /// bigWig track (relative to the root).
    pub track: Option<PathBuf>,
    /// GTF/GFF3/BED with interval classes (relative to the root).
    pub labels: Option<PathBuf>,
    /// Classes taken from `labels` (feature types or BED names), in priority order.
    #[serde(default)]
    pub label_classes: Vec<String>,
    /// Read files (BAM/CRAM) settings.
    pub reads: Option<ReadsConfig>,
}

/// The `[reads]` table of `genome.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadsConfig {
    /// Window length along each read; absent: whole reads.
    pub window: Option<u64>,
    /// Stride (default: the window length).
    pub stride: Option<u64>,
    /// Whole reads are cut to this many bases.
    pub max_length: Option<u64>,
    /// Reads shorter than this are skipped (default 1).
    pub min_length: Option<u64>,
    /// Write `qual.npy` (default false).
    #[serde(default)]
    pub quality: bool,
    /// Include secondary and supplementary records (default false).
    #[serde(default)]
    pub include_secondary: bool,
    /// Reverse-complement reverse-strand reads back to the sequencer's orientation.
    #[serde(default)]
    pub original_orientation: bool,
    /// CRAM reference FASTA (relative to the root).
    pub reference: Option<PathBuf>,
}

/// The `genome` adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct GenomeSource;

const SEQ_EXTS: [&str; 8] = [
    ".fa",
    ".fasta",
    ".fna",
    ".fa.gz",
    ".fasta.gz",
    ".fna.gz",
    ".fa.bgz",
    ".2bit",
];

fn is_sequence_file(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    SEQ_EXTS.iter().any(|e| l.ends_with(e))
}

fn is_read_file(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    l.ends_with(".bam") || l.ends_with(".cram")
}

/// The genome ID of a file: its `GCF_`/`GCA_` accession when the name starts with one, else the
/// name without sequence extensions.
pub fn genome_id(file_name: &str) -> String {
    let parts: Vec<&str> = file_name.split('_').collect();
    if parts.len() >= 2 && (parts[0] == "GCF" || parts[0] == "GCA") {
        let acc = format!("{}_{}", parts[0], parts[1]);
        return acc.split(['.']).take(2).collect::<Vec<_>>().join(".");
    }
    let mut s = file_name.to_string();
    for e in [".gz", ".bgz", ".2bit", ".fasta", ".fna", ".fa"] {
        if s.to_ascii_lowercase().ends_with(e) {
            s.truncate(s.len() - e.len());
        }
    }
    s
}

fn read_config(root: &Path) -> Result<Config> {
    let p = root.join("genome.toml");
    if !p.exists() {
        return Ok(Config::default());
    }
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    toml::from_str(&text).map_err(|e| Error::input(&p, format!("genome.toml: {e}")))
}

/// Reads `taxonomy.tsv`: genome ID to taxonomy.
pub fn read_taxonomy(path: &Path) -> Result<HashMap<String, Taxonomy>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| Error::input(path, "taxonomy.tsv is empty"))?
        .split('\t')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let g = col("genome")
        .or_else(|| col("accession"))
        .ok_or_else(|| Error::input(path, "taxonomy.tsv has no 'genome' column"))?;
    let (sp, tx, li) = (col("species"), col("taxid"), col("lineage"));
    let mut out = HashMap::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let get = |c: Option<usize>| {
            c.and_then(|c| f.get(c))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let id = get(Some(g))
            .ok_or_else(|| Error::input(path, format!("line {}: empty genome", i + 2)))?;
        let taxid = match get(tx) {
            Some(t) => Some(t.parse::<u64>().map_err(|_| {
                Error::input(path, format!("line {}: taxid {t:?} is not a number", i + 2))
            })?),
            None => None,
        };
        out.insert(
            id.to_string(),
            Taxonomy {
                species: get(sp).map(str::to_string),
                taxid,
                lineage: get(li)
                    .map(|l| l.split(';').map(|x| x.trim().to_string()).collect())
                    .unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

enum Seqs {
    Fasta(Box<IndexedFasta>),
    TwoBit(TwoBit),
}

impl SequenceSource for Seqs {
    fn sequence_list(&self) -> Vec<(String, u64)> {
        match self {
            Seqs::Fasta(f) => f.sequence_list(),
            Seqs::TwoBit(t) => t.sequence_list(),
        }
    }
    fn fetch_into(
        &mut self,
        name: &str,
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        match self {
            Seqs::Fasta(f) => f.fetch_into(name, start, end, out),
            Seqs::TwoBit(t) => t.fetch_into(name, start, end, out),
        }
    }
    fn prefers_window_fetch(&self) -> bool {
        match self {
            Seqs::Fasta(f) => f.prefers_window_fetch(),
            Seqs::TwoBit(t) => t.prefers_window_fetch(),
        }
    }
}

fn open_seqs(path: &Path) -> Result<Seqs> {
    let is_2bit = path
        .to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".2bit");
    if is_2bit {
        TwoBit::open(path)
            .map(Seqs::TwoBit)
            .map_err(|e| Error::input(path, e))
    } else {
        // records with an empty name are set aside: each becomes a unit that fails alone
        IndexedFasta::open_setting_aside_unnamed(path, IndexCheck::Quick)
            .map(|f| Seqs::Fasta(Box::new(f)))
            .map_err(|e| Error::input(path, e))
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn unit_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

impl Source for GenomeSource {
    fn name(&self) -> &'static str {
        "genome"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Dna]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let cfg = read_config(root)?;
        let taxonomy = {
            let p = root.join("taxonomy.tsv");
            if p.exists() {
                Some(read_taxonomy(&p)?)
            } else {
                None
            }
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(|e| Error::io(root, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_sequence_file(&file_name(p)))
            .collect();
        files.sort();
        let mut units = Vec::new();
        for path in files {
            let fname = file_name(&path);
            let seqs = open_seqs(&path)?;
            let list = seqs.sequence_list();
            let names: Vec<String> = list.iter().map(|s| s.0.clone()).collect();
            let assembly = cfg
                .assembly
                .clone()
                .or_else(|| guess_assembly(&fname, &names).map(str::to_string));
            let gid = genome_id(&fname);
            let aliases = assembly.as_deref().map(Aliases::of).unwrap_or_default();
            let tax = taxonomy
                .as_ref()
                .and_then(|t| t.get(&gid).or_else(|| t.get(&fname)).cloned());
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let total: u64 = list.iter().map(|s| s.1).sum::<u64>().max(1);
            if let Seqs::Fasta(f) = &seqs {
                for u in f.unnamed() {
                    units.push(Unit {
                        id: unit_id(&format!("{gid}_record{}", u.record)),
                        subject: Some(assembly.clone().unwrap_or_else(|| gid.clone())),
                        session: None,
                        inputs: vec![PathBuf::from(&fname)],
                        bytes: 0,
                        detail: serde_json::json!({ "unaddressable": u.to_string() }),
                    });
                }
            }
            for (name, len) in &list {
                let canonical = aliases.canonical(name);
                units.push(Unit {
                    id: unit_id(&format!("{gid}_{canonical}")),
                    subject: Some(assembly.clone().unwrap_or_else(|| gid.clone())),
                    session: None,
                    inputs: vec![PathBuf::from(&fname)],
                    bytes: bytes * len / total,
                    detail: serde_json::json!({
                        "seq": name, "canonical": canonical, "length": len,
                        "assembly": assembly.clone().unwrap_or_else(|| gid.clone()),
                        "taxonomy": tax,
                    }),
                });
            }
        }
        let mut read_files: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(|e| Error::io(root, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_read_file(&file_name(p)))
            .collect();
        read_files.sort();
        for path in read_files {
            let fname = file_name(&path);
            let stem = fname
                .rsplit_once('.')
                .map(|(a, _)| a.to_string())
                .unwrap_or_else(|| fname.clone());
            units.push(Unit {
                id: unit_id(&format!("{stem}_reads")),
                subject: Some(stem),
                session: None,
                inputs: vec![PathBuf::from(&fname)],
                bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                detail: serde_json::json!({"kind": "reads"}),
            });
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        for w in units.windows(2) {
            if w[0].id == w[1].id {
                return Err(Error::input(
                    root,
                    format!("two sequences map to unit {}", w[0].id),
                ));
            }
        }
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let cfg = read_config(ctx.root)?;
        if unit.detail["kind"] == "reads" {
            return convert_reads(unit, &cfg, ctx, sink);
        }
        convert_sequence(unit, &cfg, ctx, sink)
    }
}

/// One sequence unit: its file, its names and what its windows record.
struct SeqUnit {
    /// The sequence file, relative to the root.
    rel: PathBuf,
    /// The sequence file.
    path: PathBuf,
    /// The sequence's name in the file.
    seq_name: String,
    /// Its canonical name (through the assembly's aliases).
    canonical: String,
    /// The assembly (or genome ID).
    assembly: String,
    chrom_length: u64,
    taxonomy: Option<Taxonomy>,
    aliases: Aliases,
}

impl SeqUnit {
    /// The unit's plan detail, read back.
    fn of(unit: &Unit, ctx: &UnitContext<'_>) -> Result<Self> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::input(ctx.root, "unit without input"))?;
        let path = ctx.path(rel);
        let d = &unit.detail;
        if let Some(reason) = d["unaddressable"].as_str() {
            return Err(Error::input(&path, reason));
        }
        let seq_name = d["seq"]
            .as_str()
            .ok_or_else(|| Error::input(&path, "unit detail lacks seq"))?
            .to_string();
        let canonical = d["canonical"].as_str().unwrap_or(&seq_name).to_string();
        let assembly = d["assembly"].as_str().unwrap_or_default().to_string();
        Ok(SeqUnit {
            rel: rel.clone(),
            chrom_length: d["length"].as_u64().unwrap_or(0),
            taxonomy: serde_json::from_value(d["taxonomy"].clone()).unwrap_or(None),
            aliases: Aliases::of(&assembly),
            path,
            seq_name,
            canonical,
            assembly,
        })
    }

    /// A sequence name of another file (track, labels) as the FASTA names it, when it is this
    /// unit's sequence.
    fn to_fasta(&self, name: &str) -> String {
        if self.aliases.canonical(name) == self.canonical {
            self.seq_name.clone()
        } else {
            name.to_string()
        }
    }
}

/// The window geometry and policies of `genome.toml` for one sequence, and whether bases are
/// written as `seq.npy` (else `seq.txt`).
fn window_spec(cfg: &Config, ctx: &UnitContext<'_>, seq_name: &str) -> Result<(Spec, bool)> {
    let length = cfg.window.unwrap_or(1024);
    let strands = match cfg.strands.as_deref().unwrap_or("forward") {
        "forward" => Strands::Forward,
        "reverse" => Strands::Reverse,
        "both" => Strands::Both,
        other => {
            return Err(Error::input(
                ctx.root.join("genome.toml"),
                format!("strands {other:?} is not forward/reverse/both"),
            ));
        }
    };
    let complement_name = cfg.complement.as_deref().unwrap_or("acgt");
    let Some(complement) = ComplementTable::parse(complement_name) else {
        return Err(Error::input(
            ctx.root.join("genome.toml"),
            format!("complement {complement_name:?} is not acgt/iupac"),
        ));
    };
    let npy_seq = match cfg.seq_format.as_deref().unwrap_or("txt") {
        "txt" => false,
        "npy" => true,
        other => {
            return Err(Error::input(
                ctx.root.join("genome.toml"),
                format!("seq_format {other:?} is not txt/npy"),
            ));
        }
    };
    let spec = Spec {
        length,
        stride: cfg.stride.unwrap_or(length),
        n_policy: cfg
            .max_n_fraction
            .map(NPolicy::SkipAbove)
            .unwrap_or(NPolicy::Keep),
        strands,
        split: SplitBy::Chromosome {
            map: HashMap::new(),
            default: "train".into(),
        },
        only: vec![seq_name.to_string()],
        complement,
    };
    Ok((spec, npy_seq))
}

/// Split assignment: by the intervals BED when `genome.toml` names one (each window takes its
/// interval's split), else by chromosome (`splits`, default `train`).
fn sequence_plan(cfg: &Config, ctx: &UnitContext<'_>, mut spec: Spec, u: &SeqUnit) -> Result<Plan> {
    if let Some(bed) = &cfg.intervals {
        let bp = ctx.root.join(bed);
        let recs = bomdata_genomic::bed::read_all(&bp).map_err(|e| Error::input(&bp, e))?;
        let ivs: Vec<LabelledInterval> = windows::intervals_from_bed(&recs)
            .map_err(|e| Error::input(&bp, e))?
            .into_iter()
            .filter(|iv| u.aliases.canonical(&iv.chrom) == u.canonical)
            .map(|iv| LabelledInterval {
                chrom: u.seq_name.clone(),
                ..iv
            })
            .collect();
        spec.split = SplitBy::Interval;
        return Ok(Plan::Intervals(spec, ivs));
    }
    let split = cfg
        .splits
        .get(&u.canonical)
        .cloned()
        .unwrap_or_else(|| "train".into());
    spec.split = SplitBy::Chromosome {
        map: HashMap::from([(u.seq_name.clone(), split)]),
        default: "train".into(),
    };
    Ok(Plan::Fixed(spec))
}

/// Attaches the bigWig track of `genome.toml` when it holds this sequence (under any alias);
/// returns the track's description for the windows' metadata.
fn attach_track(
    w: Windower<Seqs>,
    cfg: &Config,
    ctx: &UnitContext<'_>,
    u: &SeqUnit,
) -> Result<(Windower<Seqs>, Option<TrackInfo>)> {
    let Some(t) = &cfg.track else {
        return Ok((w, None));
    };
    let tp = ctx.root.join(t);
    let file = BbiFile::open(&tp).map_err(|e| Error::input(&tp, e))?;
    let track_chrom = file
        .chroms()
        .iter()
        .find(|c| u.aliases.canonical(&c.name) == u.canonical)
        .map(|c| c.name.clone());
    let Some(tc) = track_chrom else {
        return Ok((w, None));
    };
    let info = TrackInfo {
        name: t
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        track_chrom: tc.clone(),
    };
    let w = w.with_track(Track {
        file,
        rename: HashMap::from([(u.seq_name.clone(), tc)]),
    });
    Ok((w, Some(info)))
}

/// The interval classes of `labels` (BED names or GTF/GFF3 feature types), on the FASTA's
/// sequence names.
fn read_labels(l: &Path, cfg: &Config, ctx: &UnitContext<'_>, u: &SeqUnit) -> Result<Labels> {
    let lp = ctx.root.join(l);
    let lname = lp.to_string_lossy().to_ascii_lowercase();
    let labels = if lname.ends_with(".bed")
        || lname.ends_with(".bed.gz")
        || lname.ends_with(".narrowpeak")
    {
        let recs = bomdata_genomic::bed::read_all(&lp).map_err(|e| Error::input(&lp, e))?;
        Labels::new(
            cfg.label_classes.clone(),
            recs.iter().map(|r| {
                (
                    u.to_fasta(&r.chrom),
                    r.start,
                    r.end,
                    r.name().unwrap_or("").to_string(),
                )
            }),
        )
    } else {
        let feats = bomdata_genomic::gff::read_all(&lp).map_err(|e| Error::input(&lp, e))?;
        Labels::new(
            cfg.label_classes.clone(),
            feats
                .iter()
                .map(|f| (u.to_fasta(&f.seqid), f.start, f.end, f.feature_type.clone())),
        )
    };
    labels.map_err(|e| Error::input(&lp, e))
}

/// What every window sample of one sequence shares.
struct WindowContext<'a> {
    unit: &'a SeqUnit,
    subject: String,
    reader: String,
    file_rel: String,
    npy_seq: bool,
    track_info: Option<TrackInfo>,
    label_classes: &'a [String],
}

impl WindowContext<'_> {
    /// The shared fields of a block whose first window is number `first` and has split `split`.
    fn block_meta(&self, first: u64, split: &str) -> WindowMeta {
        let u = self.unit;
        let mut meta = WindowMeta::new(u.canonical.clone(), first);
        meta.assembly = Some(u.assembly.clone()).filter(|a| !a.is_empty());
        meta.source_chrom = (u.seq_name != u.canonical).then(|| u.seq_name.clone());
        meta.chrom_length = u.chrom_length;
        meta.split = split.to_string();
        meta.taxonomy.clone_from(&u.taxonomy);
        meta
    }

    /// The sample of one full block (its `meta.json` apart).
    fn sample(&self, ctx: &UnitContext<'_>, b: BlockData) -> (Sample, WindowMeta) {
        let u = self.unit;
        let key = make(&KeyParts {
            source: ctx.source,
            subject: &self.subject,
            session: None,
            run: Some(&u.canonical),
            modality: Some(Modality::Dna),
            index: Some(b.meta.first_index),
        });
        let mut meta = b.meta;
        let lo = meta.starts.iter().min().copied().unwrap_or(0);
        let hi = (meta.starts.iter().zip(&meta.lengths))
            .map(|(s, l)| s + l)
            .max()
            .unwrap_or(0);
        meta.provenance = Some(Provenance {
            source: ctx.source.to_string(),
            file: self.file_rel.clone(),
            part: Some(format!("{}:{lo}-{hi}", u.seq_name)),
            reader: self.reader.clone(),
        });
        let n = b.seq.len();
        let mut s = Sample::new(key).with_subject(self.subject.clone());
        if self.npy_seq {
            s.push("seq.npy", npy::encode_u8(&[n], &b.seq));
        } else {
            s.push("seq.txt", b.seq);
        }
        s.push("softmask.npy", b.softmask);
        s.push("nmask.npy", b.nmask);
        if let Some(t) = b.track {
            s.push("track.npy", t);
            meta.track.clone_from(&self.track_info);
        }
        if let Some(l) = b.labels {
            s.push("labels.npy", l);
            meta.label_classes = self.label_classes.to_vec();
        }
        (s, meta)
    }

    /// Writes the block held in `buf`, if any.
    fn flush(
        &self,
        ctx: &UnitContext<'_>,
        buf: &mut BlockBuf,
        sink: &mut dyn SampleSink,
        failure: &mut Option<Error>,
    ) -> std::io::Result<()> {
        match buf.take() {
            Some(b) => {
                let (s, meta) = self.sample(ctx, b);
                emit(s, &meta, sink, failure)
            }
            None => Ok(()),
        }
    }
}

/// Cuts one sequence of a FASTA/2bit file into window blocks.
fn convert_sequence(
    unit: &Unit,
    cfg: &Config,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<()> {
    let u = SeqUnit::of(unit, ctx)?;
    let (spec, npy_seq) = window_spec(cfg, ctx, &u.seq_name)?;
    let window = spec.length;
    let plan = sequence_plan(cfg, ctx, spec, &u)?;
    let w = Windower::new(open_seqs(&u.path)?, plan);
    let (mut w, track_info) = attach_track(w, cfg, ctx, &u)?;
    if let Some(l) = &cfg.labels {
        w = w.with_labels(read_labels(l, cfg, ctx, &u)?);
    }
    let subject_orig = unit.subject.clone().unwrap_or_else(|| u.assembly.clone());
    let wc = WindowContext {
        unit: &u,
        subject: ctx.pseudonym(&subject_orig),
        reader: format!("bomdata-genomic {}", env!("CARGO_PKG_VERSION")),
        file_rel: u.rel.to_string_lossy().into_owned(),
        npy_seq,
        track_info,
        label_classes: &cfg.label_classes,
    };
    let mut buf = BlockBuf::default();
    let mut blocks = 0u64;
    let mut failure: Option<Error> = None;
    let mut res = w.for_each(|win: &Window| {
        if buf.must_flush(&win.split) {
            blocks += 1;
            wc.flush(ctx, &mut buf, sink, &mut failure)?;
        }
        buf.push(win, |first| wc.block_meta(first, &win.split));
        Ok(())
    });
    let index = buf.next_index;
    if res.is_ok() && buf.meta.is_some() {
        blocks += 1;
        res = wc.flush(ctx, &mut buf, sink, &mut failure);
    }
    if index == 0 && res.is_ok() && failure.is_none() {
        sink.skipped(&u.path, &no_window_reason(&u, window, w.skipped_n()));
    }
    finish_genome(res, failure, &u.path, sink, wc.subject, ctx, blocks)
}

/// Why a sequence made no window (the report's reason; the detail in parentheses).
fn no_window_reason(u: &SeqUnit, window: u64, skipped_n: u64) -> String {
    if u.chrom_length < window {
        format!(
            "sequence shorter than the {window} bp window ({}: {} bp)",
            u.seq_name, u.chrom_length
        )
    } else if skipped_n > 0 {
        format!(
            "every window over the max_n_fraction limit ({}: {skipped_n} windows)",
            u.seq_name
        )
    } else {
        format!("no window selected ({})", u.seq_name)
    }
}

/// Cuts a BAM/CRAM file into read windows.
fn convert_reads(
    unit: &Unit,
    cfg: &Config,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<()> {
    use bomdata_genomic::cram::AlignmentReader;
    use reads::{ReadSpec, read_windows};
    let rel = unit
        .inputs
        .first()
        .ok_or_else(|| Error::input(ctx.root, "unit without input"))?;
    let path = ctx.path(rel);
    let rc = cfg.reads.clone().unwrap_or_default();
    let npy_seq = cfg.seq_format.as_deref() == Some("npy");
    let spec = ReadSpec {
        length: rc.window,
        stride: rc.stride.or(rc.window).unwrap_or(1),
        max_length: rc.max_length,
        min_length: rc.min_length.unwrap_or(1),
        quality: rc.quality,
        include_secondary: rc.include_secondary,
        include_unmapped: true,
        original_orientation: rc.original_orientation,
        keep_names: ctx.keep_identity,
    };
    let reference = rc.reference.as_ref().map(|r| ctx.root.join(r));
    let mut reader =
        AlignmentReader::open(&path, reference.as_deref()).map_err(|e| Error::input(&path, e))?;
    let ref_names: Vec<String> = reader.references().iter().map(|r| r.0.clone()).collect();
    let assembly = cfg
        .assembly
        .clone()
        .or_else(|| guess_assembly(&file_name(&path), &ref_names).map(str::to_string));
    let aliases = assembly.as_deref().map(Aliases::of).unwrap_or_default();
    let subject_orig = unit.subject.clone().unwrap_or_default();
    let subject = ctx.pseudonym(&subject_orig);
    let reader_name = format!("bomdata-genomic {}", env!("CARGO_PKG_VERSION"));
    let file_rel = rel.to_string_lossy().into_owned();
    let mut index = 0u64;
    let mut failure: Option<Error> = None;
    let res = read_windows(&mut reader, &spec, |w| {
        let key = make(&KeyParts {
            source: ctx.source,
            subject: &subject,
            session: None,
            run: Some("reads"),
            modality: Some(Modality::Dna),
            index: Some(index),
        });
        index += 1;
        let chrom = w.rname.as_deref().map(|n| aliases.canonical(n));
        let split = chrom
            .as_ref()
            .and_then(|c| cfg.splits.get(c).cloned())
            .unwrap_or_else(|| "train".into());
        let meta = ReadWindowMeta {
            schema: "genome-read/1".into(),
            assembly: assembly.clone(),
            source_chrom: w.rname.clone().filter(|n| Some(n) != chrom.as_ref()),
            chrom,
            pos0: w.pos0,
            strand: if w.flag & 0x4 != 0 {
                "*".into()
            } else if w.flag & 0x10 != 0 {
                "-".into()
            } else {
                "+".into()
            },
            mapq: w.mapq,
            flag: w.flag,
            read_index: w.read_index,
            read_length: w.read_length,
            offset: w.offset,
            length: w.seq.len() as u64,
            reverse_complemented: w.reverse_complemented,
            split,
            n_count: w.seq.iter().filter(|&&b| b == b'N' || b == b'n').count() as u64,
            read_name: w.name.clone(),
            provenance: Provenance {
                source: ctx.source.to_string(),
                file: file_rel.clone(),
                part: Some(format!(
                    "record {} bases {}-{}",
                    w.read_index,
                    w.offset,
                    w.offset + w.seq.len() as u64
                )),
                reader: reader_name.clone(),
            },
        };
        let n = w.seq.len();
        let mut s = Sample::new(key).with_subject(subject.clone());
        if npy_seq {
            s.push("seq.npy", npy::encode_u8(&[n], &w.seq));
        } else {
            s.push("seq.txt", w.seq.clone());
        }
        if let Some(q) = &w.qual {
            s.push("qual.npy", npy::encode_u8(&[n], q));
        }
        emit(s, &meta, sink, &mut failure)
    });
    finish_genome(res, failure, &path, sink, subject, ctx, index)
}

/// Writes `s` with `meta` as its `meta.json`. A sink error is kept in `failure` and stops the
/// reader's loop (which only carries I/O errors).
fn emit<M: serde::Serialize>(
    mut s: Sample,
    meta: &M,
    sink: &mut dyn SampleSink,
    failure: &mut Option<Error>,
) -> std::io::Result<()> {
    let r = s
        .push_json("meta", meta)
        .map_err(Error::from)
        .and_then(|_| sink.write_sample(s));
    if let Err(e) = r {
        *failure = Some(e);
        return Err(std::io::Error::other("sink failed"));
    }
    Ok(())
}

/// Ends a file's conversion: the sink's error first, then the reader's (naming the file), then
/// the file's subject row with its sample count.
fn finish_genome(
    res: std::io::Result<impl Sized>,
    failure: Option<Error>,
    path: &Path,
    sink: &mut dyn SampleSink,
    subject: String,
    ctx: &UnitContext<'_>,
    n_samples: u64,
) -> Result<()> {
    if let Some(e) = failure {
        return Err(e);
    }
    res.map_err(|e| Error::input(path, e))?;
    sink.subject(SubjectRow {
        subject,
        source: ctx.source.to_string(),
        session: String::new(),
        modalities: vec![Modality::Dna],
        n_samples,
        split: String::new(),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::Pseudonymizer;
    use std::io::Write;

    struct VecSink {
        samples: Vec<Sample>,
        subjects: Vec<SubjectRow>,
    }

    impl SampleSink for VecSink {
        fn write_sample(&mut self, sample: Sample) -> Result<()> {
            self.samples.push(sample);
            Ok(())
        }
        fn subject(&mut self, row: SubjectRow) -> Result<()> {
            self.subjects.push(row);
            Ok(())
        }
        fn skipped(&mut self, _path: &Path, _reason: &str) {}
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bomdata-genome-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn seq(n: usize, seed: u32) -> Vec<u8> {
        (0..n as u32)
            .map(|i| {
                let b =
                    b"ACGT"[((i.wrapping_add(seed)).wrapping_mul(2654435761) >> 9) as usize % 4];
                if (i / 300) % 4 == 3 {
                    b.to_ascii_lowercase()
                } else {
                    b
                }
            })
            .collect()
    }

    fn fasta(records: &[(&str, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        for (n, s) in records {
            v.extend(format!(">{n} some description\n").as_bytes());
            for line in s.chunks(60) {
                v.extend(line);
                v.push(b'\n');
            }
        }
        v
    }

    fn run(root: &Path) -> (Vec<Unit>, VecSink) {
        let src = GenomeSource;
        let units = src.plan(root).unwrap();
        let p = Pseudonymizer::unkeyed();
        let ctx = UnitContext {
            root,
            source: "t2t",
            subject_namespace: "t2t",
            pseudonymizer: &p,
            keep_identity: false,
            chunk_seconds: 0.0,
            float16: false,
            allow_burned_in: false,
            keep_free_text: false,
            allow_terms: &[],
            session_rename: None,
        };
        let mut sink = VecSink {
            samples: Vec::new(),
            subjects: Vec::new(),
        };
        for u in &units {
            src.convert(u, &ctx, &mut sink).unwrap();
        }
        (units, sink)
    }

    fn meta(s: &Sample) -> serde_json::Value {
        serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap()
    }

    /// The windows of `genome/2` blocks as one sample each (the `genome/1` layout): the
    /// block's members cut at the window boundaries (masks re-packed per window), `meta.json`
    /// the block's shared fields with the window's `start`, `end`, `strand`,
    /// `lowercase_count` and `n_count`.
    fn windows_of(blocks: &[Sample]) -> Vec<Sample> {
        let mut out = Vec::new();
        for b in blocks {
            let m = meta(b);
            assert_eq!(m["schema"], "genome/2");
            let block: WindowMeta = serde_json::from_value(m.clone()).unwrap();
            let offs = block.offsets();
            let seq_npy = b.member("seq.npy").is_some();
            let seq = match b.member("seq.txt") {
                Some(x) => x.data.clone(),
                None => npy_bits(&b.member("seq.npy").unwrap().data),
            };
            assert_eq!(seq.len() as u64, block.bases());
            let bits = |name: &str| {
                let v = npy_bits(&b.member(name).unwrap().data);
                assert_eq!(v.len(), seq.len().div_ceil(8));
                (0..seq.len())
                    .map(move |i| (v[i / 8] >> (i % 8)) & 1)
                    .collect::<Vec<u8>>()
            };
            let (soft, nm) = (bits("softmask.npy"), bits("nmask.npy"));
            let pack = |v: &[u8]| {
                let mut p = vec![0u8; v.len().div_ceil(8)];
                for (i, &x) in v.iter().enumerate() {
                    p[i / 8] |= x << (i % 8);
                }
                p
            };
            for i in 0..block.windows() {
                let (a, e) = (offs[i] as usize, offs[i + 1] as usize);
                let mut wm = m.clone();
                for k in [
                    "starts",
                    "lengths",
                    "strands",
                    "n_counts",
                    "lowercase_counts",
                ] {
                    wm.as_object_mut().unwrap().remove(k);
                }
                wm["start"] = block.starts[i].into();
                wm["end"] = (block.starts[i] + block.lengths[i]).into();
                wm["strand"] = block.strands[i..i + 1].into();
                wm["lowercase_count"] = block.lowercase_counts[i].into();
                wm["n_count"] = block.n_counts[i].into();
                let key = WindowMeta::window_key(&b.key, block.first_index, i as u64);
                let mut s = Sample::new(key);
                let w = &seq[a..e];
                if seq_npy {
                    s.push("seq.npy", npy::encode_u8(&[w.len()], w));
                } else {
                    s.push("seq.txt", w.to_vec());
                }
                let (ps, pn) = (pack(&soft[a..e]), pack(&nm[a..e]));
                s.push("softmask.npy", npy::encode_u8(&[ps.len()], &ps));
                s.push("nmask.npy", npy::encode_u8(&[pn.len()], &pn));
                if let Some(t) = b.member("track.npy") {
                    let d = npy::decode(&t.data).unwrap().data;
                    let v: Vec<f32> = d[a * 4..e * 4]
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    s.push("track.npy", npy::encode_f32(&[v.len()], &v));
                }
                if let Some(l) = b.member("labels.npy") {
                    let d = npy::decode(&l.data).unwrap().data;
                    s.push("labels.npy", npy::encode_u8(&[e - a], &d[a..e]));
                }
                s.push("meta.json", serde_json::to_vec(&wm).unwrap());
                out.push(s);
            }
        }
        out
    }

    #[test]
    fn aliases_resolve_every_naming() {
        let t2t = Aliases::of("T2T-CHM13v2.0");
        for n in ["chr1", "1", "NC_060925.1", "CP068277.2", "NC_060925"] {
            assert_eq!(t2t.canonical(n), "chr1", "{n}");
        }
        let hg = Aliases::of("GRCh38");
        for n in ["chr1", "1", "NC_000001.11", "CM000663.2"] {
            assert_eq!(hg.canonical(n), "chr1", "{n}");
        }
        assert_eq!(hg.canonical("chrUn_xyz"), "chrUn_xyz");
        assert_eq!(
            guess_assembly("GCA_009914755.4_T2T-CHM13v2.0_genomic.fna", &[]),
            Some("T2T-CHM13v2.0")
        );
        assert_eq!(
            guess_assembly("x.fa", &["NC_000001.11".into()]),
            Some("GRCh38")
        );
        assert_eq!(guess_assembly("x.fa", &["contig1".into()]), None);
        assert_eq!(
            genome_id("GCF_000005845.2_ASM584v2_genomic.fna.gz"),
            "GCF_000005845.2"
        );
    }

    #[test]
    fn assembly_tree_with_aliases_track_labels_and_chromosome_splits() {
        let root = tmpdir("asm");
        let (a, b) = (seq(5000, 1), seq(3000, 2));
        std::fs::write(
            root.join("GCA_009914755.4_T2T-CHM13v2.0_genomic.fna"),
            fasta(&[("NC_060925.1", &a), ("NC_060926.1", &b)]),
        )
        .unwrap();
        // track named by UCSC names
        let ivs: Vec<(u32, u32, u32, f32)> = (0..100u32)
            .map(|i| (0, i * 40, i * 40 + 20, i as f32))
            .collect();
        std::fs::write(
            root.join("sig.bw"),
            bomdata_genomic::bbi::write_bigwig(&[("chr1", 5000), ("chr2", 3000)], &ivs, true)
                .unwrap(),
        )
        .unwrap();
        std::fs::write(
            root.join("genes.gtf"),
            "1\tt\texon\t101\t300\t.\t+\t.\tgene_id \"g\";\n",
        )
        .unwrap();
        std::fs::write(
            root.join("genome.toml"),
            "window = 1000\nstride = 1000\nstrands = \"both\"\ntrack = \"sig.bw\"\nlabels = \"genes.gtf\"\nlabel_classes = [\"exon\"]\n[splits]\nchr2 = \"test\"\n",
        )
        .unwrap();
        let (units, sink) = run(&root);
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].id, "GCA_009914755.4_chr1");
        // one block per sequence (the split changes with it)
        assert_eq!(sink.samples.len(), 2);
        let wins = windows_of(&sink.samples);
        assert_eq!(wins.len(), 2 * (5 + 3));
        assert_eq!(wins[1].key, WindowMeta::window_key(&wins[0].key, 0, 1));
        let bw = BbiFile::open(&root.join("sig.bw")).unwrap();
        for s in &wins {
            let m = meta(s);
            assert_eq!(m["schema"], "genome/2");
            assert_eq!(m["assembly"], "T2T-CHM13v2.0");
            let chrom = m["chrom"].as_str().unwrap();
            assert_eq!(m["split"], if chrom == "chr2" { "test" } else { "train" });
            assert_eq!(
                m["source_chrom"],
                if chrom == "chr1" {
                    "NC_060925.1"
                } else {
                    "NC_060926.1"
                }
            );
            let (st, en) = (m["start"].as_u64().unwrap(), m["end"].as_u64().unwrap());
            let src = if chrom == "chr1" { &a } else { &b };
            let mut want = src[st as usize..en as usize].to_vec();
            let mut vals = bw.values(chrom, st, en).unwrap();
            if m["strand"] == "-" {
                bomdata_genomic::sequence::reverse_complement_with(
                    &mut want,
                    ComplementTable::default(),
                );
                vals.reverse();
            }
            assert_eq!(s.member("seq.txt").unwrap().data, want);
            assert_eq!(
                m["lowercase_count"].as_u64().unwrap() as usize,
                want.iter().filter(|c| c.is_ascii_lowercase()).count()
            );
            let t = npy::decode(&s.member("track.npy").unwrap().data).unwrap();
            assert_eq!(t.shape, vec![1000]);
            let got: Vec<f32> = t
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            for (g, w) in got.iter().zip(&vals) {
                assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()));
            }
            let l = npy::decode(&s.member("labels.npy").unwrap().data).unwrap();
            let exon = l.data.iter().filter(|&&x| x == 1).count();
            assert_eq!(exon, if chrom == "chr1" && st == 0 { 200 } else { 0 });
            assert!(s.member("softmask.npy").is_some() && s.member("nmask.npy").is_some());
        }
        assert_eq!(sink.subjects.len(), 2);
        assert!(sink.subjects.iter().all(|r| r.subject != "T2T-CHM13v2.0"));
        let _ = std::fs::remove_dir_all(&root);
    }

    /// Issue 20, items 3 and 4: the − strand of `AC.-GRKn` keeps the IUPAC codes by default
    /// (`nKRC-.GT`, as HyenaDNA and Caduceus), complements them with `complement = "iupac"`;
    /// the soft mask flags only the lowercase letter.
    #[test]
    fn reverse_strand_complement_table_and_soft_mask() {
        for (conf, want) in [("", "nKRC-.GT"), ("complement = \"iupac\"\n", "nMYC-.GT")] {
            let root = tmpdir("iupac");
            std::fs::write(root.join("x.fa"), b">s1\nAC.-GRKn\n").unwrap();
            std::fs::write(
                root.join("genome.toml"),
                format!("window = 8\nstride = 8\nstrands = \"both\"\n{conf}"),
            )
            .unwrap();
            let (_, sink) = run(&root);
            assert_eq!(sink.samples.len(), 1, "{conf}");
            let wins = windows_of(&sink.samples);
            assert_eq!(wins.len(), 2, "{conf}");
            let both = npy_bits(&sink.samples[0].member("softmask.npy").unwrap().data);
            assert_eq!(both, vec![0b1000_0000, 0b0000_0001], "{conf}");
            for s in &wins {
                let m = meta(s);
                let seq = &s.member("seq.txt").unwrap().data;
                if m["strand"] == "-" {
                    assert_eq!(seq.as_slice(), want.as_bytes(), "{conf}");
                } else {
                    assert_eq!(seq.as_slice(), b"AC.-GRKn");
                }
                assert_eq!(m["lowercase_count"], 1, "{conf}: {m}");
                let soft = npy_bits(&s.member("softmask.npy").unwrap().data);
                let want_soft = if m["strand"] == "-" {
                    0b0000_0001
                } else {
                    0b1000_0000
                };
                assert_eq!(soft, vec![want_soft], "{conf}");
            }
            let _ = std::fs::remove_dir_all(&root);
        }
    }

    /// The packed bytes of a 1-D uint8 `.npy`.
    fn npy_bits(bytes: &[u8]) -> Vec<u8> {
        bomdata_shard::npy::decode(bytes).unwrap().data.to_vec()
    }

    #[test]
    fn interval_splits_from_a_basenji_bed() {
        let root = tmpdir("bed");
        let a = seq(6000, 3);
        std::fs::write(root.join("hg38.fa"), fasta(&[("chr1", &a)])).unwrap();
        std::fs::write(
            root.join("seqs.bed"),
            "1\t0\t2000\ttrain\nchr1\t2000\t2600\tvalid\nCM000663.2\t2600\t6000\ttest\n",
        )
        .unwrap();
        std::fs::write(
            root.join("genome.toml"),
            "window = 512\nstride = 256\nintervals = \"seqs.bed\"\nseq_format = \"npy\"\n",
        )
        .unwrap();
        let (_, sink) = run(&root);
        // a block per run of windows of one split
        for b in &sink.samples {
            let m = meta(b);
            let w = m["starts"].as_array().unwrap().len();
            assert!(w >= 1 && m["lengths"].as_array().unwrap().len() == w);
        }
        let wins = windows_of(&sink.samples);
        let mut spans: Vec<(u64, u64, String)> = wins
            .iter()
            .map(|s| {
                let m = meta(s);
                (
                    m["start"].as_u64().unwrap(),
                    m["end"].as_u64().unwrap(),
                    m["split"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        spans.sort();
        for (s, e, l) in &spans {
            let ok = match l.as_str() {
                "train" => *e <= 2000,
                "valid" => *s >= 2000 && *e <= 2600,
                _ => *s >= 2600,
            };
            assert!(ok, "{s}-{e} {l}");
        }
        assert!(spans.iter().any(|x| x.2 == "valid"));
        assert!(sink.samples[0].member("seq.npy").is_some());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn collection_with_taxonomy() {
        let root = tmpdir("col");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&fasta(&[
            ("NZ_CP000001.1", &seq(2500, 4)),
            ("plasmid1", &seq(1100, 5)),
        ]))
        .unwrap();
        std::fs::write(
            root.join("GCF_000005845.2_ASM584v2_genomic.fna.gz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        let tb = bomdata_genomic::twobit::write(&[("contig_1", &seq(1500, 6))], false, 0).unwrap();
        std::fs::write(root.join("MAG42.2bit"), tb).unwrap();
        std::fs::write(
            root.join("taxonomy.tsv"),
            "genome\tspecies\ttaxid\tlineage\nGCF_000005845.2\tEscherichia coli\t562\td__Bacteria;p__Pseudomonadota\nMAG42\tUnknown phage\t\t\n",
        )
        .unwrap();
        std::fs::write(root.join("genome.toml"), "window = 1000\n").unwrap();
        let (units, sink) = run(&root);
        assert_eq!(units.len(), 3);
        assert_eq!(sink.samples.len(), 3);
        assert_eq!(windows_of(&sink.samples).len(), 2 + 1 + 1);
        for s in &sink.samples {
            let m = meta(s);
            if m["assembly"] == "GCF_000005845.2" {
                assert_eq!(m["taxonomy"]["species"], "Escherichia coli");
                assert_eq!(m["taxonomy"]["taxid"], 562);
                assert_eq!(m["taxonomy"]["lineage"][0], "d__Bacteria");
            } else {
                assert_eq!(m["assembly"], "MAG42");
                assert_eq!(m["taxonomy"]["species"], "Unknown phage");
            }
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn read_windows_from_a_bam_without_read_names() {
        let fx = bomdata_testdata::require_fixtures().join("bam");
        let root = tmpdir("reads");
        std::fs::copy(fx.join("ex1.bam"), root.join("sample7.bam")).unwrap();
        std::fs::write(
            root.join("genome.toml"),
            "splits = { chr2 = \"test\" }\n[reads]\nwindow = 20\nstride = 10\nquality = true\n",
        )
        .unwrap();
        let (units, sink) = run(&root);
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].detail["kind"], "reads");
        // the library's windows, one sample each
        let mut r =
            bomdata_genomic::cram::AlignmentReader::open(&fx.join("ex1.bam"), None).unwrap();
        let spec = reads::ReadSpec {
            length: Some(20),
            stride: 10,
            ..Default::default()
        };
        let n = reads::read_windows(&mut r, &spec, |_| Ok(())).unwrap();
        assert!(n > 3000);
        assert_eq!(sink.samples.len() as u64, n);
        let names: Vec<String> = {
            let mut v = Vec::new();
            let mut r =
                bomdata_genomic::cram::AlignmentReader::open(&fx.join("ex1.bam"), None).unwrap();
            r.for_each(|a| {
                v.extend(a.qname.clone());
                Ok(())
            })
            .unwrap();
            v
        };
        let first = &names[0];
        let mut seen_test = false;
        for s in &sink.samples {
            let m = meta(s);
            assert_eq!(m["schema"], "genome-read/1");
            assert_eq!(m["length"], 20);
            assert!(m.get("read_name").is_none());
            assert_eq!(s.member("seq.txt").unwrap().data.len(), 20);
            assert!(s.member("qual.npy").is_some());
            if m["chrom"] == "chr2" {
                assert_eq!(m["split"], "test");
                seen_test = true;
            }
            for mem in &s.members {
                let text = String::from_utf8_lossy(&mem.data);
                assert!(
                    !text.contains(first.as_str()),
                    "read name leaked in {}",
                    mem.name
                );
            }
            assert!(
                !s.key.contains("sample7"),
                "subject not pseudonymised: {}",
                s.key
            );
        }
        assert!(seen_test);
        let m0 = meta(&sink.samples[0]);
        // ex1.bam starts with an unmapped read (flag 69): no mapping in its windows
        assert_eq!(m0["read_index"], 0);
        assert!(m0["pos0"].is_null() && m0["chrom"].is_null());
        assert_eq!(m0["strand"], "*");
        let mapped = sink
            .samples
            .iter()
            .map(meta)
            .find(|m| m["strand"] == "+")
            .unwrap();
        assert!(mapped["pos0"].as_u64().is_some() && mapped["mapq"].as_u64().is_some());
        let _ = std::fs::remove_dir_all(&root);
    }
}
