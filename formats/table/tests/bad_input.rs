//! Malformed tables are refused with the file, the row/column and the reason; nothing is coerced.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io;

use bomdata_table::{TableError, methylation, olink, table};

fn table_error(e: &io::Error) -> TableError {
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    TableError::from_io(e)
        .unwrap_or_else(|| panic!("no TableError inside: {e}"))
        .clone()
}

#[test]
fn ragged_rows() {
    let text = "SampleID;OlinkID;NPX\nS1;OID1;1.5\nS2;OID1\n";
    let e = table::read_delimited(text.as_bytes(), "ragged.csv", None).unwrap_err();
    let te = table_error(&e);
    assert_eq!((te.file.as_str(), te.row), ("ragged.csv", Some(3)));
    assert!(te.reason.contains("expected 3 fields"), "{te}");
    // Too many fields is refused the same way (pandas would shift columns or fail later).
    let e = table::read_delimited("a,b\n1,2,3\n".as_bytes(), "wide.csv", None).unwrap_err();
    assert_eq!(table_error(&e).row, Some(2));
    // The streamed matrix converter too.
    let text = "ID_REF,s1,s2\ncg1,0.1,0.2\ncg2,0.3\n";
    let e = methylation::convert_to_parquet(text.as_bytes(), "m.csv", Vec::new(), 1).unwrap_err();
    assert_eq!(table_error(&e).row, Some(3));
}

#[test]
fn numeric_column_with_stray_text() {
    // A sample column of a beta matrix with one text cell: refused at that cell.
    let text = "ID_REF,s1,s2\ncg1,0.1,0.2\ncg2,0.3,oops\ncg3,0.5,0.6\n";
    let t = table::read_delimited(text.as_bytes(), "beta.csv", None).unwrap();
    let e = methylation::beta_matrix(&t).unwrap_err();
    let te = table_error(&e);
    assert_eq!(te.row, Some(3));
    assert_eq!(te.column.as_deref(), Some("s2"));
    assert!(te.reason.contains("\"oops\""), "{te}");
    assert_eq!(
        e.to_string(),
        "beta.csv: line 3, column \"s2\": expected a number, found \"oops\""
    );
    // The generic reader keeps such a column as text (no coercion to NaN).
    assert_eq!(t.numeric_column(2), None);
    // Streamed.
    let e =
        methylation::convert_to_parquet(text.as_bytes(), "beta.csv", Vec::new(), 2).unwrap_err();
    let te = table_error(&e);
    assert_eq!((te.row, te.column.as_deref()), (Some(3), Some("s2")));
    // Olink NPX with text in NPX.
    let text = "SampleID;OlinkID;NPX\nS1;OID1;1.5\nS2;OID1;high\n";
    let t = table::read_delimited(text.as_bytes(), "npx.csv", None).unwrap();
    let te = table_error(&olink::pivot(&t, &olink::PivotOptions::default()).unwrap_err());
    assert_eq!((te.row, te.column.as_deref()), (Some(3), Some("NPX")));
}

#[test]
fn duplicate_sample_ids() {
    let text = "SampleID;OlinkID;NPX\nS1;OID1;1.5\nS2;OID1;2\nS1;OID1;1.7\n";
    let t = table::read_delimited(text.as_bytes(), "dup.csv", None).unwrap();
    let te = table_error(&olink::pivot(&t, &olink::PivotOptions::default()).unwrap_err());
    assert_eq!((te.row, te.column.as_deref()), (Some(4), Some("SampleID")));
    assert!(te.reason.contains("first on line 2"), "{te}");
    // Resolved only when asked, and counted.
    let opts = olink::PivotOptions {
        duplicates: olink::Duplicates::Mean,
        ..Default::default()
    };
    let w = olink::pivot(&t, &opts).unwrap();
    assert_eq!(w.duplicates_resolved, 1);
    assert!((w.npx[0] - 1.6).abs() < 1e-12);
    // Methylation: the same sample twice in the header.
    let t = table::read_delimited("ID_REF,s1,s1\ncg1,0.1,0.2\n".as_bytes(), "m.csv", None).unwrap();
    let te = table_error(&methylation::beta_matrix(&t).unwrap_err());
    assert_eq!(te.row, Some(1));
    assert!(te.reason.contains("\"s1\" is repeated"), "{te}");
    let e = methylation::convert_to_parquet(
        "ID_REF,s1,s1\ncg1,0.1,0.2\n".as_bytes(),
        "m.csv",
        Vec::new(),
        2,
    )
    .unwrap_err();
    assert_eq!(table_error(&e).row, Some(1));
    // Transposed: a sample row twice.
    let t = table::read_delimited(
        "sample,cg00000001,cg00000002\nA,0.1,0.2\nA,0.3,0.4\n".as_bytes(),
        "t.csv",
        None,
    )
    .unwrap();
    let te = table_error(&methylation::beta_matrix(&t).unwrap_err());
    assert_eq!((te.row, te.column.as_deref()), (Some(3), Some("sample")));
}

#[test]
fn controls_and_bridges_dropped_and_counted() {
    let text = "SampleID;OlinkID;NPX;QC_Warning;Assay_Warning;Sample_Type;LOD\n\
                S1;OID2;1.0;PASS;PASS;SAMPLE;0.5\n\
                S1;OID1;0.2;WARN;PASS;SAMPLE;0.5\n\
                CTRL;OID1;3.0;PASS;PASS;CONTROL;0.5\n\
                B7;OID1;3.0;PASS;PASS;SAMPLE;0.5\n\
                S2;OID1;2.0;PASS;WARN;SAMPLE;0.5\n";
    let t = table::read_delimited(text.as_bytes(), "x.csv", None).unwrap();
    let opts = olink::PivotOptions {
        bridge_ids: vec!["B7".into()],
        ..Default::default()
    };
    let w = olink::pivot(&t, &opts).unwrap();
    assert_eq!(w.platform, olink::Platform::Explore);
    assert_eq!(w.sample_ids, ["S1", "S2"]);
    assert_eq!(w.olink_ids, ["OID1", "OID2"]);
    assert_eq!(w.dropped_controls, ["CTRL"]);
    assert_eq!(w.dropped_bridges, ["B7"]);
    assert_eq!(w.dropped_rows, 2);
    assert_eq!(w.qc_warning, [true, false, false, false]);
    assert_eq!(w.assay_warning, [false, false, true, false]);
    assert_eq!(w.below_lod, [true, false, false, false]);
    assert!(w.npx[3].is_nan());
    let b = w.npx_batch().unwrap();
    assert_eq!(b.num_columns(), 3);
    assert_eq!(b.column(2).null_count(), 1);
}

#[cfg(feature = "hdf5")]
#[test]
fn hdf5_biom_missing_dataset() {
    use hdf5_metno as h5;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.biom");
    {
        let f = h5::File::create(&path).unwrap();
        let ids = |g: &h5::Group, v: &[&str]| {
            let v: Vec<h5::types::VarLenUnicode> = v.iter().map(|s| s.parse().unwrap()).collect();
            g.new_dataset_builder().with_data(&v).create("ids").unwrap();
        };
        let o = f.create_group("observation").unwrap();
        ids(&o, &["o1", "o2"]);
        let s = f.create_group("sample").unwrap();
        ids(&s, &["s1"]);
        let m = o.create_group("matrix").unwrap();
        m.new_dataset_builder()
            .with_data(&[1.0f64, 2.0])
            .create("data")
            .unwrap();
        m.new_dataset_builder()
            .with_data(&[0i32, 0])
            .create("indices")
            .unwrap();
        // observation/matrix/indptr deliberately absent.
    }
    let e = bomdata_table::biom::Biom::read(&path).unwrap_err();
    let te = table_error(&e);
    assert_eq!(te.file, path.display().to_string());
    assert_eq!(te.column.as_deref(), Some("observation/matrix/indptr"));
    assert!(
        te.reason
            .contains("missing dataset observation/matrix/indptr"),
        "{te}"
    );
}

#[test]
fn biom_json_entry_out_of_shape() {
    let j = br#"{"id":null,"type":"OTU table","rows":[{"id":"o1"}],"columns":[{"id":"s1"}],
        "matrix_type":"sparse","shape":[1,1],"data":[[0,0,1],[0,3,2]]}"#;
    let te = table_error(&bomdata_table::biom::Biom::from_json(j, "b.biom").unwrap_err());
    assert_eq!(te.column.as_deref(), Some("data"));
    assert!(te.reason.contains("entry 1"), "{te}");
}

#[test]
fn olink_platform_variants() {
    // Explore 3072 / HT: SampleQC, AssayQC, SampleType; read from Parquet as the platform ships it.
    let text = "SampleID,SampleType,OlinkID,UniProt,Assay,AssayType,Panel,NPX,PCNormalizedNPX,Count,AssayQC,SampleQC,LOD\n\
                A,SAMPLE,OID40001,P1,GENE1,assay,Cardiometabolic,1.5,1.4,100,PASS,PASS,2.0\n\
                A,SAMPLE,OID40002,P2,GENE1,assay,Oncology,2.5,2.4,100,WARN,PASS,0.1\n\
                B,SAMPLE,OID40001,P1,GENE1,assay,Cardiometabolic,0.5,0.4,100,PASS,FAIL,0.1\n\
                PC1,PLATE_CONTROL,OID40001,P1,GENE1,assay,Cardiometabolic,0.5,0.4,100,PASS,PASS,0.1\n";
    let t = table::read_delimited(text.as_bytes(), "ht.csv", None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("ht.parquet");
    table::write_parquet(&t.batch, std::fs::File::create(&pq).unwrap()).unwrap();
    assert_eq!(bomdata_table::probe::detect(&pq), Some("olink_npx"));
    let t = table::read_path(&pq).unwrap();
    let w = olink::pivot(&t, &olink::PivotOptions::default()).unwrap();
    assert_eq!(w.platform, olink::Platform::Explore3072);
    // Columns are OlinkIDs even though both assays are called GENE1.
    assert_eq!(w.olink_ids, ["OID40001", "OID40002"]);
    assert_eq!(w.sample_ids, ["A", "B"]);
    assert_eq!(w.dropped_controls, ["PC1"]);
    assert_eq!(w.assay_warning, [false, true, false, false]);
    assert_eq!(w.qc_warning, [false, false, true, false]);
    assert_eq!(w.below_lod, [true, false, false, false]);
    // Target 96: no assay warning or sample type columns.
    let text = "SampleID\tIndex\tOlinkID\tUniProt\tAssay\tMissingFreq\tPanel_Version\tPlateID\tQC_Warning\tLOD\tNPX\n\
                S1\t1\tOID00471\tP1\tIL8\t0\tv.1201\tplate1\tWarning\t1.0\t0.5\n";
    let t = table::read_delimited(text.as_bytes(), "t96.tsv", None).unwrap();
    let w = olink::pivot(&t, &olink::PivotOptions::default()).unwrap();
    assert_eq!(w.platform, olink::Platform::Target96);
    assert_eq!((w.qc_warning[0], w.below_lod[0]), (true, true));
}
