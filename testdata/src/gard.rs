//! A GARD-like cohort: per visit (`ses-bl`, `ses-m24`) an EPIC beta matrix (`ID_REF` × samples),
//! an Olink long NPX table with QC flags and LOD, and a microbiome BIOM table (v2.1 HDF5 with the
//! `hdf5` feature, else v1 JSON); and one clinical table (MMSE, diagnosis) with its mapping.
//! Some subjects lack a modality or their second visit. [`gard_cohort`] returns the values it
//! wrote ([`GardTruth`]), as a reader must see them (f32, NaN for NA).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::files::put;

/// Sizes of the cohort.
#[derive(Clone, Copy, Debug)]
pub struct GardOptions {
    /// Subjects (`GARD-0000`, ...).
    pub subjects: usize,
    /// EPIC probes (`cg00000000`, ...).
    pub probes: usize,
    /// Olink assays (`OID00000`, ...).
    pub assays: usize,
    /// Microbiome OTUs (`OTU_0000`, ...).
    pub otus: usize,
}

impl Default for GardOptions {
    fn default() -> Self {
        GardOptions {
            subjects: 200,
            probes: 20_000,
            assays: 92,
            otus: 60,
        }
    }
}

/// One Olink row of a subject visit: NPX, QC warning, below LOD (per assay).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OlinkRow {
    /// NPX per assay.
    pub npx: Vec<f32>,
    /// Sample QC warning per assay.
    pub qc_warning: Vec<bool>,
    /// NPX below LOD per assay.
    pub below_lod: Vec<bool>,
}

/// What the cohort holds, keyed by (original subject ID, visit).
#[derive(Clone, Debug, Default)]
pub struct GardTruth {
    /// Visits.
    pub visits: Vec<String>,
    /// Probe IDs, assay IDs, OTU IDs.
    pub probes: Vec<String>,
    /// Olink IDs.
    pub assays: Vec<String>,
    /// OTU IDs.
    pub otus: Vec<String>,
    /// Beta per probe (NaN: NA).
    pub methylation: BTreeMap<(String, String), Vec<f32>>,
    /// Olink rows.
    pub olink: BTreeMap<(String, String), OlinkRow>,
    /// Counts per OTU.
    pub microbiome: BTreeMap<(String, String), Vec<f32>>,
    /// MMSE (NaN: NA) and diagnosis (recoded).
    pub clinical: BTreeMap<(String, String), (f32, String)>,
}

/// The visits.
pub const VISITS: [&str; 2] = ["bl", "m24"];

fn id(i: usize) -> String {
    format!("GARD-{i:04}")
}

/// Whether subject `i` has visit `v` at all, and each modality there.
fn has(i: usize, v: usize, modality: &str) -> bool {
    if v == 1 && i % 10 == 9 {
        return false;
    }
    match modality {
        "methylation" => i % 7 != 3,
        "olink" => i % 11 != 5,
        "microbiome" => i % 6 != 1,
        _ => true,
    }
}

fn beta_text(i: usize, v: usize, p: usize) -> Option<String> {
    if (i * 31 + p + v).is_multiple_of(997) {
        return None;
    }
    let k = (i * 7919 + p * 104_729 + v * 31) % 1000;
    Some(format!("{}", k as f64 / 1000.0))
}

fn methylation(root: &Path, o: &GardOptions, v: usize, truth: &mut GardTruth) {
    let ids: Vec<usize> = (0..o.subjects)
        .filter(|&i| has(i, v, "methylation"))
        .collect();
    let mut text = String::with_capacity(o.probes * ids.len() * 6);
    text.push_str("ID_REF");
    for &i in &ids {
        text.push(',');
        text.push_str(&id(i));
    }
    text.push('\n');
    let mut cols: Vec<Vec<f32>> = vec![Vec::with_capacity(o.probes); ids.len()];
    for p in 0..o.probes {
        let _ = write!(text, "cg{p:08}");
        for (c, &i) in ids.iter().enumerate() {
            text.push(',');
            match beta_text(i, v, p) {
                Some(s) => {
                    cols[c].push(s.parse::<f64>().unwrap_or(f64::NAN) as f32);
                    text.push_str(&s);
                }
                None => {
                    cols[c].push(f32::NAN);
                    text.push_str("NA");
                }
            }
        }
        text.push('\n');
    }
    put(
        root,
        &format!("GARD/ses-{}/GARD_EPIC_beta.csv", VISITS[v]),
        text,
    );
    for (c, &i) in ids.iter().enumerate() {
        let col = std::mem::take(&mut cols[c]);
        truth.methylation.insert((id(i), VISITS[v].into()), col);
    }
}

fn olink(root: &Path, o: &GardOptions, v: usize, truth: &mut GardTruth) {
    let mut text = String::from("SampleID;OlinkID;Assay;Panel;NPX;LOD;QC_Warning\n");
    for i in (0..o.subjects).filter(|&i| has(i, v, "olink")) {
        let warn = i % 9 == 2;
        let mut row = OlinkRow::default();
        for a in 0..o.assays {
            let npx = ((i * 13 + a * 7 + v * 5) % 800) as f64 / 100.0 - 1.0;
            let lod = 0.5;
            let _ = writeln!(
                text,
                "{};OID{a:05};A{a};Inflammation;{npx};{lod};{}",
                id(i),
                if warn { "Warning" } else { "Pass" }
            );
            row.npx.push(npx as f32);
            row.qc_warning.push(warn);
            row.below_lod.push(npx < lod);
        }
        truth.olink.insert((id(i), VISITS[v].into()), row);
    }
    put(root, &format!("GARD/ses-{}/GARD_NPX.csv", VISITS[v]), text);
}

fn counts(o: &GardOptions, v: usize) -> (Vec<usize>, Vec<Vec<f64>>) {
    let ids: Vec<usize> = (0..o.subjects)
        .filter(|&i| has(i, v, "microbiome"))
        .collect();
    let m = ids
        .iter()
        .map(|&i| {
            (0..o.otus)
                .map(|t| {
                    let k = (i * 17 + t * 29 + v * 3) % 23;
                    if k < 6 { 0.0 } else { (k * (t % 5 + 1)) as f64 }
                })
                .collect()
        })
        .collect();
    (ids, m)
}

fn microbiome(root: &Path, o: &GardOptions, v: usize, truth: &mut GardTruth) {
    let (ids, m) = counts(o, v);
    let samples: Vec<String> = ids.iter().map(|&i| id(i)).collect();
    let rel = format!("GARD/ses-{}/GARD_microbiome.biom", VISITS[v]);
    write_biom(&root.join(&rel), &truth.otus, &samples, &m);
    for (s, c) in samples.into_iter().zip(m) {
        let c = c.into_iter().map(|x| x as f32).collect();
        truth.microbiome.insert((s, VISITS[v].into()), c);
    }
}

/// BIOM v2.1 (HDF5): observation-major CSR and sample-major CSC, ids, the required attributes.
#[cfg(feature = "hdf5")]
#[allow(clippy::panic)]
fn write_biom(path: &Path, otus: &[String], samples: &[String], m: &[Vec<f64>]) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    }
    write_biom_hdf5(path, otus, samples, m).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// (axis group, ids, minor count, value at (major, minor)).
#[cfg(feature = "hdf5")]
type Axis<'a> = (
    &'a str,
    &'a [String],
    usize,
    &'a dyn Fn(usize, usize) -> f64,
);

#[cfg(feature = "hdf5")]
fn write_biom_hdf5(
    path: &Path,
    otus: &[String],
    samples: &[String],
    m: &[Vec<f64>],
) -> hdf5_metno::Result<()> {
    use hdf5_metno::types::VarLenUnicode;
    let text = |s: &str| -> hdf5_metno::Result<VarLenUnicode> {
        s.parse::<VarLenUnicode>()
            .map_err(|e| hdf5_metno::Error::from(e.to_string().as_str()))
    };
    let f = hdf5_metno::File::create(path)?;
    for (k, val) in [
        ("id", "GARD microbiome"),
        ("type", "OTU table"),
        ("format-url", "http://biom-format.org"),
        ("generated-by", "bomdata-testdata"),
        ("creation-date", "2026-01-01T00:00:00"),
    ] {
        f.new_attr::<VarLenUnicode>()
            .create(k)?
            .write_scalar(&text(val)?)?;
    }
    f.new_attr::<i32>()
        .shape([2])
        .create("format-version")?
        .write(&[2, 1])?;
    let shape = [otus.len() as i32, samples.len() as i32];
    f.new_attr::<i32>()
        .shape([2])
        .create("shape")?
        .write(&shape)?;
    let nnz = m.iter().flatten().filter(|x| **x != 0.0).count();
    f.new_attr::<i32>()
        .create("nnz")?
        .write_scalar(&(nnz as i32))?;
    let by_obs = |r: usize, c: usize| m[c][r];
    let by_sample = |r: usize, c: usize| m[r][c];
    let axes: [Axis<'_>; 2] = [
        ("observation", otus, samples.len(), &by_obs),
        ("sample", samples, otus.len(), &by_sample),
    ];
    for (name, ids, minor, value) in axes {
        let g = f.create_group(name)?;
        let ids: Vec<VarLenUnicode> = ids.iter().map(|s| text(s)).collect::<Result<_, _>>()?;
        g.new_dataset_builder().with_data(&ids).create("ids")?;
        g.create_group("metadata")?;
        g.create_group("group-metadata")?;
        let (mut data, mut indices, mut indptr) = (Vec::new(), Vec::new(), vec![0i32]);
        for r in 0..ids.len() {
            for c in 0..minor {
                let x = value(r, c);
                if x != 0.0 {
                    data.push(x);
                    indices.push(c as i32);
                }
            }
            indptr.push(data.len() as i32);
        }
        let mg = g.create_group("matrix")?;
        mg.new_dataset_builder().with_data(&data).create("data")?;
        mg.new_dataset_builder()
            .with_data(&indices)
            .create("indices")?;
        mg.new_dataset_builder()
            .with_data(&indptr)
            .create("indptr")?;
    }
    Ok(())
}

/// BIOM 1.0 JSON (dense) when the `hdf5` feature is off.
#[cfg(not(feature = "hdf5"))]
fn write_biom(path: &Path, otus: &[String], samples: &[String], m: &[Vec<f64>]) {
    let rows: Vec<String> = otus
        .iter()
        .map(|o| format!("{{\"id\":\"{o}\",\"metadata\":null}}"))
        .collect();
    let cols: Vec<String> = samples
        .iter()
        .map(|s| format!("{{\"id\":\"{s}\",\"metadata\":null}}"))
        .collect();
    let data: Vec<String> = (0..otus.len())
        .map(|r| {
            let v: Vec<String> = m.iter().map(|c| format!("{}", c[r])).collect();
            format!("[{}]", v.join(","))
        })
        .collect();
    let text = format!(
        "{{\"id\":\"GARD microbiome\",\"format\":\"Biological Observation Matrix 1.0.0\",\
         \"type\":\"OTU table\",\"generated_by\":\"bomdata-testdata\",\"rows\":[{}],\
         \"columns\":[{}],\"matrix_type\":\"dense\",\"matrix_element_type\":\"float\",\
         \"shape\":[{},{}],\"data\":[{}]}}",
        rows.join(","),
        cols.join(","),
        otus.len(),
        samples.len(),
        data.join(",")
    );
    crate::files::write(path, text);
}

fn clinical(root: &Path, o: &GardOptions, truth: &mut GardTruth) {
    let mut text = String::from("PTID,VISCODE,MMSE,DX\n");
    for i in 0..o.subjects {
        for (v, visit) in VISITS.iter().enumerate() {
            if !has(i, v, "clinical") {
                continue;
            }
            let mmse = (i % 17 != 4).then(|| (18 + (i * 3 + v * 5) % 13) as f32);
            let (raw, dx) = match (i + v) % 3 {
                0 => ("NL", "CN"),
                1 => ("MCI", "MCI"),
                _ => ("AD", "AD"),
            };
            let cell = mmse.map_or("NA".to_string(), |m| format!("{m}"));
            let _ = writeln!(text, "{},{visit},{cell},{raw}", id(i));
            truth.clinical.insert(
                (id(i), (*visit).to_string()),
                (mmse.unwrap_or(f32::NAN), dx.to_string()),
            );
        }
    }
    put(root, "GARD/clinical/GARD_visits.csv", text);
    put(
        root,
        "GARD/clinical/GARD_visits.mapping.tsv",
        "column\tvariable\ttype\tunit\tcanonical_unit\tmin\tmax\tlevels\n\
         PTID\tsubject_id\tidentifier\t\t\t\t\t\n\
         VISCODE\tvisit\tcategorical\t\t\t\t\t\n\
         MMSE\tmmse\tnumeric\t\t\t0\t30\t\n\
         DX\tdiagnosis\tcategorical\t\t\t\t\tNL=CN\n",
    );
}

/// Writes the cohort under `root/GARD/` and returns what it holds.
pub fn gard_cohort(root: &Path, o: &GardOptions) -> GardTruth {
    let mut truth = GardTruth {
        visits: VISITS.iter().map(|s| s.to_string()).collect(),
        probes: (0..o.probes).map(|p| format!("cg{p:08}")).collect(),
        assays: (0..o.assays).map(|a| format!("OID{a:05}")).collect(),
        otus: (0..o.otus).map(|t| format!("OTU_{t:04}")).collect(),
        ..GardTruth::default()
    };
    for v in 0..VISITS.len() {
        methylation(root, o, v, &mut truth);
        olink(root, o, v, &mut truth);
        microbiome(root, o, v, &mut truth);
    }
    clinical(root, o, &mut truth);
    truth
}
