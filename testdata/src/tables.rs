//! Synthetic omics and clinical table trees: Illumina methylation (beta matrix, GEO signal
//! table), Olink NPX, microbiome BIOM (the repository's fixtures) and clinical visits with
//! their variable mapping.

use std::path::Path;

use crate::files::put;

/// The original sample IDs in the methylation tree (they must never reach an output).
pub const METHYLATION_IDS: [&str; 3] = ["GSM2941001", "200607090061_R03C01", "PATIENT-XY"];

/// A methylation tree's readable tables: `cohort_beta.csv` (probes × two samples, one NA) and a
/// GEO signal table `cohort_signal.txt` (methylated/unmethylated/detection p of one sample).
pub fn methylation_recordings(root: &Path) {
    let ids = METHYLATION_IDS;
    put(
        root,
        "cohort_beta.csv",
        format!(
            ",ID_REF,{},{}\n0,cg00000029,0.5,NA\n1,cg00000108,0.25,0.75\n2,cg00000109,0.125,1\n",
            ids[0], ids[1]
        ),
    );
    put(
        root,
        "cohort_signal.txt",
        format!(
            "ID_REF\t{0} Methylated Signal\t{0} Unmethylated Signal\t{0} Detection Pval\n\
             cg00000029\t900\t0\t0.001\ncg00000108\t100\t100\t0.5\n",
            ids[2]
        ),
    );
}

/// [`methylation_recordings`] plus `broken_beta.csv`, a beta matrix with a non-number (fails).
pub fn methylation_tree(root: &Path) {
    methylation_recordings(root);
    put(
        root,
        "broken_beta.csv",
        "ID_REF,S9\ncg00000029,0.5\ncg00000108,oops\n",
    );
}

/// `wide_beta.csv`: `n` probes `cg00000000…` × samples A1 (values `(i % 1000) / 1000`) and A2
/// (0.5).
pub fn methylation_wide(root: &Path, n: usize) {
    let mut text = String::from("ID_REF,A1,A2\n");
    for i in 0..n {
        text.push_str(&format!("cg{i:08},{},0.5\n", (i % 1000) as f64 / 1000.0));
    }
    put(root, "wide_beta.csv", text);
}

/// An Olink tree: `cohort_NPX.csv` (semicolon-separated long table) with three samples, a
/// control sample, a QC warning and values below LOD.
pub fn olink_tree(root: &Path) {
    put(
        root,
        "cohort_NPX.csv",
        "SampleID;OlinkID;NPX;QC_Warning;LOD\n\
         S1;OID2;1.0;Pass;0.5\nS1;OID1;0.2;Warning;0.5\nCONTROL_1;OID1;3;Pass;0.5\n\
         S2;OID1;2.0;Pass;0.5\nS2;OID2;0.25;Pass;0.5\nS3;OID1;-1.5;Pass;0.5\nS3;OID3;4.75;Pass;1.0\n",
    );
}

/// A microbiome tree: the repository's two BIOM fixtures (`tests/data/biom`).
#[allow(clippy::panic)]
pub fn microbiome_tree(root: &Path) {
    for name in ["min_sparse_otu_table.biom", "rich_sparse_otu_table.biom"] {
        let from = crate::repo_data().join("biom").join(name);
        let bytes = std::fs::read(&from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        put(root, &format!("biom/{name}"), bytes);
    }
}

/// A clinical tree: `ARIC/visits.csv` (identifiers, dates, a lab value, a score, a diagnosis and
/// free-text notes naming people) with its `visits.mapping.tsv`.
pub fn clinical_tree(root: &Path) {
    put(
        root,
        "ARIC/visits.csv",
        "PTID,NAME,DOB,PHONE,VISCODE,EXAMDATE,NFL,MMSE,DX,NOTE\n\
         SUBJ-0042-1234,Ada Lovelace,1815-12-10,+44 20 7946 0958,bl,2019-03-14,12.5,27,MCI,Ada Lovelace called 020 7946 0958 on 14/03/2019 re SUBJ-0042-1234\n\
         SUBJ-0042-1234,Ada Lovelace,1815-12-10,+44 20 7946 0958,m12,2020-03-20,13.25,26,MCI,follow-up\n\
         SUBJ-0099-5678,Charles Babbage,26/12/1791,(555) 123-4567,bl,2019-05-02,15,30,NL,Mr Babbage (MRN 77881234) well\n\
         SUBJ-0100-0001,Grace Hopper,1906-12-09,555 0100,bl,2019-07-01,2000,31,AD,out of range values\n",
    );
    put(
        root,
        "ARIC/visits.mapping.tsv",
        "column\tvariable\ttype\tunit\tcanonical_unit\tmin\tmax\tlevels\n\
         PTID\tsubject_id\tidentifier\t\t\t\t\t\n\
         NAME\tname\tidentifier\t\t\t\t\t\n\
         PHONE\tphone\tidentifier\t\t\t\t\t\n\
         DOB\tbirth_date\tdate\t\t\t\t\t\n\
         VISCODE\tvisit\tcategorical\t\t\t\t\t\n\
         EXAMDATE\texam_date\tdate\t\t\t\t\t\n\
         NFL\tnfl_plasma\tnumeric\tpg/mL\tng/L\t0\t1000\t\n\
         MMSE\tmmse\tnumeric\t\t\t0\t30\t\n\
         DX\tdiagnosis\tcategorical\t\t\t\t\tNL=CN\n\
         NOTE\tnote\ttext\t\t\t\t\t\n",
    );
}
