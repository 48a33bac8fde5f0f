//! Issue 19 (diffusion and enhanced multi-frame through the product): a generic DICOM folder
//! holding a classic Siemens DWI series (single-slice instances, b-values and vectors in the
//! vendor's private tags, a description without "dwi"), an Enhanced MR DWI object and an
//! Enhanced MR 3-D object and an Enhanced PET object (one file each, functional groups), through `bomdata ingest` and
//! `bomdata shard --profile volume`. The volumes equal `bomdata_dicom`'s on the same files; the
//! DWI samples are dMRI with one b-value and `.bvec` entry per volume equal to the library's
//! (which its own tests compare with dcm2niix) and, when `dcm2niix` is present, the b-values
//! equal its `.bval`; no identifying string reaches the outputs.

use std::path::{Path, PathBuf};

use bomdata_dicom::series::Volume;
use bomdata_testdata::dicom::{PetHeaders, Series};
use bomdata_testdata::dicom_mf::{
    Enhanced, Mosaic, Vendor, dwi_table, enhanced_mr, write_dwi_series, write_mosaic_series,
};

use crate::dicom::{assert_nothing_identifying, ingest_ok};

fn oblique(patient: &str, number: u32, description: &str, slices: usize, volumes: usize) -> Series {
    let mut s = Series::axial(patient, number, description, slices);
    let (c, si) = (0.3f64.cos(), 0.3f64.sin());
    let (c8, s8) = (0.2f64.cos(), 0.2f64.sin());
    s.iop = [c, si, 0.0, -si * c8, c * c8, s8];
    s.step = [si * s8, -c * s8, c8].map(|x| x * 2.2);
    s.volumes = volumes;
    s
}

/// The sample's C-order array and affine equal `vol`.
fn check_values(meta: &serde_json::Value, npy: &[u8], vol: &Volume) {
    let shape: Vec<usize> = serde_json::from_value(meta["shape"].clone()).unwrap();
    assert_eq!(shape, vol.shape, "{meta}");
    let affine: [[f64; 4]; 4] = serde_json::from_value(meta["affine"].clone()).unwrap();
    for (a, b) in affine.iter().flatten().zip(vol.affine.iter().flatten()) {
        assert!((a - b).abs() < 1e-6, "{meta}");
    }
    let a = bomdata_shard::npy::decode(npy).unwrap();
    let data: Vec<f32> = npy[a.data_offset..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (nx, ny, nz) = (vol.shape[0], vol.shape[1], vol.shape[2]);
    let nt = vol.shape.get(3).copied().unwrap_or(1);
    assert_eq!(data.len(), vol.data.len());
    for (f, want) in vol.data.iter().enumerate() {
        let (i, j, k, t) = (f % nx, f / nx % ny, f / (nx * ny) % nz, f / (nx * ny * nz));
        assert_eq!(data[((i * ny + j) * nz + k) * nt + t], *want as f32);
    }
}

fn check_gradients(meta: &serde_json::Value, want: &bomdata_dicom::diffusion::Gradients) {
    assert_eq!(meta["modality"], "dmri", "{meta}");
    let bvals: Vec<f64> = serde_json::from_value(meta["gradients"]["bvals"].clone()).unwrap();
    let bvecs: Vec<[f64; 3]> = serde_json::from_value(meta["gradients"]["bvecs"].clone()).unwrap();
    assert_eq!(bvals, want.bvals);
    assert_eq!(bvecs.len(), want.bvecs.len());
    for (a, b) in bvecs.iter().zip(&want.bvecs) {
        assert!(
            a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9),
            "{a:?} vs {b:?}"
        );
    }
}

/// dcm2niix's b-values for the files, when it is installed.
fn dcm2niix_bvals(files: &[PathBuf], work: &Path, name: &str) -> Option<Vec<f64>> {
    let input = work.join(format!("in_{name}"));
    std::fs::create_dir_all(&input).unwrap();
    for f in files {
        std::fs::copy(f, input.join(f.file_name().unwrap())).unwrap();
    }
    let out = std::process::Command::new("dcm2niix")
        .args(["-z", "n", "-b", "n", "-f", name, "-o"])
        .arg(work)
        .arg(&input)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(work.join(format!("{name}.bval"))).unwrap();
    Some(
        text.split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect(),
    )
}

#[test]
fn dicom_dwi_and_enhanced_objects_through_ingest_and_shard() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("hospital-dwi");
    let classic = oblique("HOSP-PATIENT-4711", 41, "ep2d_diff_mddw_20", 4, 5);
    let classic_files = write_dwi_series(
        &src.join("DICOM/0001"),
        &classic,
        Vendor::Siemens,
        &dwi_table(5),
        |k, t| format!("IM41{t}{k:03}"),
    );
    let enh_dwi = oblique("HOSP-PATIENT-4712", 42, "DWI_enhanced", 3, 4);
    let enh_t1 = {
        let mut s = oblique("HOSP-PATIENT-4712", 43, "T1_3D_enhanced", 6, 1);
        s.rescale = Some((0.5, 100.0));
        s
    };
    std::fs::create_dir_all(src.join("DICOM/0002")).unwrap();
    let dwi_file = src.join("DICOM/0002/IM42");
    let o = Enhanced {
        diffusion: Some(dwi_table(4)),
        ..Default::default()
    };
    std::fs::write(&dwi_file, enhanced_mr(&enh_dwi, &o)).unwrap();
    let mut pet = oblique("HOSP-PATIENT-4712", 44, "Dynamic_AV45_enhanced", 3, 3);
    pet.modality = "PT";
    let pet_headers = PetHeaders {
        series_time_s: 10.0 * 3600.0,
        starts_s: vec![0.0, 300.0, 900.0],
        durations_s: vec![300.0, 600.0, 600.0],
        injection_time_s: 9.0 * 3600.0 + 10.0 * 60.0,
        dose_bq: Some(3.7e8),
        half_life_s: 6586.2,
        weight_kg: Some(68.0),
        decay: "START",
        units: "BQML",
    };
    let pet_file = src.join("DICOM/0002/IM44");
    let o_pet = Enhanced {
        pet: Some(pet_headers.clone()),
        ..Default::default()
    };
    std::fs::write(&pet_file, enhanced_mr(&pet, &o_pet)).unwrap();
    let t1_file = src.join("DICOM/0002/IM43");
    std::fs::write(&t1_file, enhanced_mr(&enh_t1, &Enhanced::default())).unwrap();

    let (ds, train, got) = ingest_ok(d.path(), &src, "dicom", 4);
    let find = |shape: &[usize]| {
        got.iter()
            .find(|(m, _)| m["shape"] == serde_json::json!(shape))
            .unwrap_or_else(|| panic!("no sample of shape {shape:?}"))
    };
    let work = d.path().join("dcm2niix");

    // Classic DWI: dMRI from its header, gradients per volume.
    let vol = bomdata_dicom::series::volume(&classic_files).unwrap();
    let want = bomdata_dicom::diffusion::of_series(&vol.files, 4, &vol.affine)
        .unwrap()
        .unwrap();
    let (meta, npy) = find(&[6, 4, 4, 5]);
    check_values(meta, npy, &vol);
    check_gradients(meta, &want);
    if let Some(b) = dcm2niix_bvals(&classic_files, &work, "classic") {
        assert_eq!(b, want.bvals);
    }

    // Enhanced DWI.
    let (vol, g) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&dwi_file)).unwrap();
    let (meta, npy) = find(&[6, 4, 3, 4]);
    check_values(meta, npy, &vol);
    let g = g.unwrap();
    check_gradients(meta, &g);
    if let Some(b) = dcm2niix_bvals(std::slice::from_ref(&dwi_file), &work, "enh") {
        assert_eq!(b, g.bvals);
    }

    // Enhanced 3-D, rescaled by its functional groups.
    let (vol, g) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&t1_file)).unwrap();
    assert!(g.is_none());
    let (meta, npy) = find(&[6, 4, 6]);
    check_values(meta, npy, &vol);
    assert_eq!(meta["modality"], "smri", "{meta}");
    assert_eq!(meta["scaling"]["slope"], 0.5, "{meta}");
    assert_eq!(meta["repetition_time_s"], 2.3, "{meta}");
    assert!(
        meta.get("gradients").is_none_or(serde_json::Value::is_null),
        "{meta}"
    );

    // Enhanced PET: 4-D, frame timing from the functional groups, facts from the header.
    let (vol, _) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&pet_file)).unwrap();
    let (meta, npy) = find(&[6, 4, 3, 3]);
    check_values(meta, npy, &vol);
    assert_eq!(meta["modality"], "pet", "{meta}");
    assert_eq!(
        meta["frames"]["starts_s"],
        serde_json::json!(pet_headers.starts_s),
        "{meta}"
    );
    assert_eq!(
        meta["frames"]["durations_s"],
        serde_json::json!(pet_headers.durations_s),
        "{meta}"
    );
    assert_eq!(meta["pet"]["body_weight_kg"], 68.0, "{meta}");
    assert_eq!(meta["pet"]["injection_s"], -3000.0, "{meta}");

    let src_s = src.display().to_string();
    assert_nothing_identifying(&[&ds, &train], &[&src_s, "hospital-dwi", "IM41"]);
    for dir in [&ds, &train] {
        assert!(bomdata_tests::bomdata(&["verify"], &[dir]).status.success());
    }
}

#[test]
fn adni_raw_dti_series_carries_its_gradients() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("adni-dti");
    let s = oblique("002_S_0295", 51, "Axial_DTI", 3, 4);
    let dir = src.join("ADNI/002_S_0295/Axial_DTI/2006-04-18_08_20_30.0/I45108");
    let files = write_dwi_series(&dir, &s, Vendor::Ge, &dwi_table(4), |k, t| {
        format!(
            "ADNI_002_S_0295_MR_Axial_DTI_br_raw_20060418082030_{}_S151_I45108.dcm",
            t * 100 + k + 1
        )
    });
    let (ds, train, got) = ingest_ok(d.path(), &src, "adni", 1);
    let (meta, npy) = &got[0];
    let vol = bomdata_dicom::series::volume(&files).unwrap();
    check_values(meta, npy, &vol);
    let want = bomdata_dicom::diffusion::of_series(&vol.files, 3, &vol.affine)
        .unwrap()
        .unwrap();
    check_gradients(meta, &want);
    assert_eq!(want.bvals, [0.0, 1000.0, 2000.0, 1000.0]);
    let src_s = src.display().to_string();
    assert_nothing_identifying(&[&ds, &train], &[&src_s, "adni-dti"]);
}

#[test]
fn siemens_mosaic_series_through_ingest_and_shard() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("hospital-mosaic");
    let bold = oblique("HOSP-PATIENT-4711", 45, "ep2d_bold_rest", 5, 3);
    let bold_files = write_mosaic_series(&src.join("DICOM/0003"), &bold, &Mosaic::default(), |t| {
        format!("IM45{t:03}")
    });
    let dwi = oblique("HOSP-PATIENT-4711", 46, "ep2d_diff_mddw_mosaic", 4, 5);
    let m = Mosaic {
        diffusion: Some(dwi_table(5)),
        ..Mosaic::default()
    };
    let dwi_files =
        write_mosaic_series(&src.join("DICOM/0004"), &dwi, &m, |t| format!("IM46{t:03}"));
    let (ds, train, got) = ingest_ok(d.path(), &src, "dicom", 2);
    let find = |shape: &[usize]| {
        got.iter()
            .find(|(m, _)| m["shape"] == serde_json::json!(shape))
            .unwrap_or_else(|| panic!("no sample of shape {shape:?}"))
    };
    // The library's volumes (which its tests compare with dcm2niix), tiles unpacked.
    let (vol, g) = bomdata_dicom::mosaic::volume(&bold_files).unwrap();
    assert!(g.is_none());
    let (meta, npy) = find(&[6, 4, 5, 3]);
    check_values(meta, npy, &vol);
    assert_eq!(meta["dicom"]["instances"], 3, "{meta}");
    let (vol, g) = bomdata_dicom::mosaic::volume(&dwi_files).unwrap();
    let (meta, npy) = find(&[6, 4, 4, 5]);
    check_values(meta, npy, &vol);
    check_gradients(meta, &g.unwrap());
    let src_s = src.display().to_string();
    assert_nothing_identifying(&[&ds, &train], &[&src_s, "hospital-mosaic", "IM45"]);
}
