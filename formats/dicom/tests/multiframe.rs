//! Enhanced multi-frame objects and diffusion series (synthetic, real header structure, from
//! `bomdata_testdata::dicom_mf`) to volumes, compared with `dcm2niix` (Debian package) on the
//! same files: same shape, every voxel at the same world position (RAS+, within 1e-4 mm) with the
//! same value, and the same b-values and gradient directions (within 1e-4, compared as world
//! directions so the two grids' axis orders do not matter). Skips the comparison with a message
//! when `dcm2niix` is absent. Also: malformed functional groups give errors naming the file.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

use bomdata_dicom::SeriesError;
use bomdata_dicom::diffusion::Gradients;
use bomdata_dicom::series::Volume;
use bomdata_testdata::dicom::{Series, stored_value};
use bomdata_testdata::dicom_mf::{
    Enhanced, Mosaic, Vendor, csa2, dwi_table, enhanced_mr, mosaic_instance, per_frame_rescale,
    write_dwi_series, write_mosaic_series,
};

fn inverse3(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let c = |r: usize, k: usize| {
        let (r1, r2, k1, k2) = ((r + 1) % 3, (r + 2) % 3, (k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    [0, 1, 2].map(|i| [0, 1, 2].map(|j| c(j, i) / det))
}

fn det3(a: &[[f64; 4]; 4]) -> f64 {
    let m = inverse3([0, 1, 2].map(|r| [a[r][0], a[r][1], a[r][2]]));
    // det(A) = 1 / det(A⁻¹); only the sign is used.
    1.0 / (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))
}

/// An FSL `.bvec` entry back to a world (RAS) direction on the grid of `a`.
fn world(bvec: [f64; 3], a: &[[f64; 4]; 4]) -> [f64; 3] {
    let mut v = bvec;
    if det3(a) > 0.0 {
        v[0] = -v[0];
    }
    let axes = [0, 1, 2].map(|c| {
        let col = [a[0][c], a[1][c], a[2][c]];
        let n = (col[0] * col[0] + col[1] * col[1] + col[2] * col[2]).sqrt();
        col.map(|x| x / n)
    });
    [0, 1, 2].map(|r| (0..3).map(|c| v[c] * axes[c][r]).sum())
}

struct Theirs {
    shape: Vec<usize>,
    affine: [[f64; 4]; 4],
    data: Vec<f64>,
    bvals: Option<Vec<f64>>,
    bvecs: Option<Vec<[f64; 3]>>,
}

fn dcm2niix(files: &[PathBuf], dir: &Path, name: &str) -> Theirs {
    let input = dir.join(format!("in_{name}"));
    std::fs::create_dir_all(&input).unwrap();
    for f in files {
        std::fs::copy(f, input.join(f.file_name().unwrap())).unwrap();
    }
    let out = std::process::Command::new("dcm2niix")
        .args(["-z", "n", "-b", "n", "-f", name, "-o"])
        .arg(dir)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dcm2niix: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r = bomdata_nifti::Reader::open(&dir.join(format!("{name}.nii"))).unwrap();
    let h = r.header().clone();
    let (mut data, mut vol) = (Vec::new(), Vec::new());
    while r.read_volume_f64(&mut vol).unwrap() {
        data.extend(&vol);
    }
    let nums = |s: &str| -> Vec<f64> { s.split_whitespace().map(|t| t.parse().unwrap()).collect() };
    let bvals = std::fs::read_to_string(dir.join(format!("{name}.bval")))
        .ok()
        .map(|s| nums(&s));
    let bvecs = std::fs::read_to_string(dir.join(format!("{name}.bvec")))
        .ok()
        .map(|s| {
            let rows: Vec<Vec<f64>> = s.lines().map(nums).collect();
            (0..rows[0].len())
                .map(|i| [rows[0][i], rows[1][i], rows[2][i]])
                .collect()
        });
    Theirs {
        shape: h.shape().iter().map(|&x| x as usize).collect(),
        affine: h.best_affine(),
        data,
        bvals,
        bvecs,
    }
}

/// Every voxel of ours lands on a voxel of dcm2niix's with the same value; same gradients.
fn compare(files: &[PathBuf], ours: &Volume, grads: Option<&Gradients>, dir: &Path, name: &str) {
    compare_signed(files, ours, grads, dir, name, false);
}

/// As [`compare`]; with `antipodal`, a gradient direction may also equal minus dcm2niix's (the
/// same diffusion encoding: the signal depends on g gᵀ only).
fn compare_signed(
    files: &[PathBuf],
    ours: &Volume,
    grads: Option<&Gradients>,
    dir: &Path,
    name: &str,
    antipodal: bool,
) {
    let t = dcm2niix(files, dir, name);
    let mut a = t.shape.clone();
    a.sort_unstable();
    let mut b = ours.shape.clone();
    b.sort_unstable();
    assert_eq!(
        a, b,
        "{name}: shapes {:?} vs ours {:?}",
        t.shape, ours.shape
    );
    assert_eq!(t.shape.get(3), ours.shape.get(3), "{name}: volumes");
    let bm = t.affine;
    let inv = inverse3([0, 1, 2].map(|r| [bm[r][0], bm[r][1], bm[r][2]]));
    let (nx, ny, nz) = (ours.shape[0], ours.shape[1], ours.shape[2]);
    let their_vol = t.shape[..3].iter().product::<usize>();
    for (n, &value) in ours.data.iter().enumerate() {
        let ijk = [n % nx, (n / nx) % ny, (n / (nx * ny)) % nz].map(|x| x as f64);
        let vt = n / (nx * ny * nz);
        let a = ours.affine;
        let w: [f64; 3] = [0, 1, 2]
            .map(|r| a[r][0] * ijk[0] + a[r][1] * ijk[1] + a[r][2] * ijk[2] + a[r][3] - bm[r][3]);
        let x = [0, 1, 2].map(|r| inv[r][0] * w[0] + inv[r][1] * w[1] + inv[r][2] * w[2]);
        let idx = x.map(|v| v.round());
        for (v, r) in x.iter().zip(idx) {
            assert!((v - r).abs() < 1e-4, "{name}: voxel {ijk:?} lands at {x:?}");
        }
        let (i, j, k) = (idx[0] as usize, idx[1] as usize, idx[2] as usize);
        assert!(
            i < t.shape[0] && j < t.shape[1] && k < t.shape[2],
            "{name}: {ijk:?} → {idx:?}"
        );
        let theirs = t.data[vt * their_vol + i + t.shape[0] * (j + t.shape[1] * k)];
        assert!(
            (theirs - value).abs() <= 1e-4 * value.abs().max(1.0),
            "{name}: value at {ijk:?} volume {vt}: dcm2niix {theirs}, ours {value}"
        );
    }
    match (grads, &t.bvals, &t.bvecs) {
        (None, None, None) => {}
        (Some(g), Some(bvals), Some(bvecs)) => {
            assert_eq!(
                g.bvals.len(),
                bvals.len(),
                "{name}: bvals {:?} vs {bvals:?}",
                g.bvals
            );
            for (x, y) in g.bvals.iter().zip(bvals) {
                assert!(
                    (x - y).abs() < 1e-4,
                    "{name}: bvals {:?} vs {bvals:?}",
                    g.bvals
                );
            }
            for (v, (x, y)) in g.bvecs.iter().zip(bvecs).enumerate() {
                let (wx, wy) = (world(*x, &ours.affine), world(*y, &t.affine));
                let same = wx.iter().zip(wy).all(|(p, q)| (p - q).abs() < 1e-4);
                let opposite = wx.iter().zip(wy).all(|(p, q)| (p + q).abs() < 1e-4);
                assert!(
                    same || (antipodal && opposite),
                    "{name}: volume {v}: bvec {x:?} (world {wx:?}) vs dcm2niix {y:?} (world {wy:?})"
                );
            }
        }
        (g, b, v) => panic!("{name}: gradients {g:?} vs dcm2niix {b:?} {v:?}"),
    }
}

#[allow(clippy::print_stderr)] // the skip is said where the test output shows it
fn dcm2niix_present() -> bool {
    let ok = std::process::Command::new("dcm2niix")
        .arg("-v")
        .output()
        .is_ok();
    if !ok {
        eprintln!("dcm2niix is absent (Debian package dcm2niix): comparison skipped");
    }
    ok
}

fn oblique(number: u32, slices: usize, volumes: usize) -> Series {
    let mut s = Series::axial("MF-PATIENT", number, "ep2d_diff_mddw", slices);
    let (c, si) = (0.3f64.cos(), 0.3f64.sin());
    let (c8, s8) = (0.2f64.cos(), 0.2f64.sin());
    s.iop = [c, si, 0.0, -si * c8, c * c8, s8];
    let n = [si * s8, -c * s8, c8];
    s.step = n.map(|x| x * 2.2);
    s.volumes = volumes;
    s.rows = 5;
    s.cols = 7;
    s
}

#[test]
fn classic_dwi_series_match_dcm2niix_for_every_vendor() {
    let dir = tempfile::tempdir().unwrap();
    let compare_too = dcm2niix_present();
    for (n, vendor) in [
        Vendor::Standard,
        Vendor::Siemens,
        Vendor::Ge,
        Vendor::Philips,
    ]
    .into_iter()
    .enumerate()
    {
        let s = oblique(20 + n as u32, 4, 5);
        let table = dwi_table(5);
        let name = format!("{vendor:?}").to_lowercase();
        let files = write_dwi_series(&dir.path().join(&name), &s, vendor, &table, |k, t| {
            format!("i{t}_{k}.dcm")
        });
        let v = bomdata_dicom::series::volume(&files).unwrap();
        assert_eq!(v.shape, [7, 5, 4, 5], "{name}");
        let g = bomdata_dicom::diffusion::of_series(&v.files, 4, &v.affine)
            .unwrap()
            .unwrap();
        assert_eq!(g.bvals, [0.0, 1000.0, 2000.0, 1000.0, 2000.0], "{name}");
        assert_eq!(g.bvecs[0], [0.0; 3]);
        for (t, (b, dir_lps)) in table.iter().enumerate().skip(1) {
            // Back to the world: the bvec on our grid is the written direction.
            let ras = [-dir_lps[0], -dir_lps[1], dir_lps[2]];
            let w = world(g.bvecs[t], &v.affine);
            assert!(
                w.iter().zip(ras).all(|(p, q)| (p - q).abs() < 1e-6),
                "{name} {t}: {w:?} vs {ras:?}"
            );
            assert_eq!(g.bvals[t], *b);
        }
        if compare_too {
            compare(&files, &v, Some(&g), dir.path(), &name);
        }
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn enhanced_mr_volume_matches_dcm2niix() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = oblique(30, 5, 1);
    s.description = "t1_mprage".into();
    s.rescale = Some((2.0, -10.0));
    let f = write(
        dir.path(),
        "enh.dcm",
        &enhanced_mr(&s, &Enhanced::default()),
    );
    let (v, g) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap();
    assert_eq!(v.shape, [7, 5, 5]);
    assert!(g.is_none());
    // Voxel (c, r, k) = stored value × 2 − 10, whatever the frame order in the file.
    for (n, &x) in v.data.iter().enumerate() {
        let (c, r, k) = (n % 7, (n / 7) % 5, n / 35);
        assert_eq!(x, f64::from(stored_value(&s, c, r, k, 0)) * 2.0 - 10.0);
    }
    // Same grid as the classic series of the same geometry.
    let classic = bomdata_testdata::dicom::write_series(&dir.path().join("classic"), &s, |k, t| {
        format!("c{t}_{k}.dcm")
    });
    let cv = bomdata_dicom::series::volume(&classic).unwrap();
    assert_eq!(cv.shape, v.shape);
    for (a, b) in cv.affine.iter().flatten().zip(v.affine.iter().flatten()) {
        assert!((a - b).abs() < 1e-9, "{:?} vs {:?}", cv.affine, v.affine);
    }
    assert_eq!(cv.data, v.data);
    if dcm2niix_present() {
        compare(&[f], &v, None, dir.path(), "enh3d");
    }
}

#[test]
fn enhanced_dwi_matches_dcm2niix() {
    let dir = tempfile::tempdir().unwrap();
    let s = oblique(31, 4, 5);
    let table = dwi_table(5);
    let o = Enhanced {
        diffusion: Some(table.clone()),
        ..Default::default()
    };
    let f = write(dir.path(), "dwi.dcm", &enhanced_mr(&s, &o));
    let (v, g) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap();
    assert_eq!(v.shape, [7, 5, 4, 5]);
    let g = g.unwrap();
    assert_eq!(g.bvals, [0.0, 1000.0, 2000.0, 1000.0, 2000.0]);
    for (t, (_, d)) in table.iter().enumerate().skip(1) {
        let w = world(g.bvecs[t], &v.affine);
        let ras = [-d[0], -d[1], d[2]];
        assert!(
            w.iter().zip(ras).all(|(p, q)| (p - q).abs() < 1e-9),
            "{t}: {w:?} {ras:?}"
        );
    }
    if dcm2niix_present() {
        compare(&[f], &v, Some(&g), dir.path(), "enhdwi");
    }
}

#[test]
fn per_frame_rescale_is_applied_per_frame() {
    let dir = tempfile::tempdir().unwrap();
    let s = oblique(32, 3, 2);
    let o = Enhanced {
        per_frame_rescale: true,
        ..Default::default()
    };
    let bytes = enhanced_mr(&s, &o);
    let f = write(dir.path(), "pf.dcm", &bytes);
    let (v, _) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap();
    assert_eq!(v.shape, [7, 5, 3, 2]);
    for (n, &x) in v.data.iter().enumerate() {
        let (c, r, k, t) = (n % 7, (n / 7) % 5, (n / 35) % 3, n / 105);
        let (slope, inter) = per_frame_rescale(k, t);
        assert_eq!(x, f64::from(stored_value(&s, c, r, k, t)) * slope + inter);
    }
    // probe: frames, [frame, row, col] indexes, statistics after each frame's rescale.
    let order = bomdata_testdata::dicom_mf::frame_order(&s);
    let opts = bomdata_format_core::ProbeOptions {
        at: vec![vec![0, 1, 2], vec![5, 4, 6]],
        ..Default::default()
    };
    let p = bomdata_dicom::probe::probe(&f, &opts).unwrap();
    assert_eq!(p["frames"], 6);
    for (i, at) in opts.at.iter().enumerate() {
        let (k, t) = order[at[0] as usize];
        let (slope, inter) = per_frame_rescale(k, t);
        let want =
            f64::from(stored_value(&s, at[2] as usize, at[1] as usize, k, t)) * slope + inter;
        assert_eq!(p["values"][i]["value"].as_f64().unwrap(), want, "{at:?}");
    }
    let sum: f64 = v.data.iter().sum();
    assert!((p["stats"]["sum"].as_f64().unwrap() - sum).abs() < 1e-6);
    if dcm2niix_present() {
        compare(&[f], &v, None, dir.path(), "perframe");
    }
}

#[test]
fn malformed_functional_groups_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = oblique(33, 3, 1);
    let good = enhanced_mr(&s, &Enhanced::default());
    // NumberOfFrames says 4, the per-frame groups hold 3.
    let mut bad = good.clone();
    let at = bad
        .windows(8)
        .position(|w| w == [0x28, 0, 8, 0, b'I', b'S', 2, 0])
        .unwrap();
    bad[at + 8] = b'4';
    let f = write(dir.path(), "count.dcm", &bad);
    let e = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap_err();
    assert!(
        matches!(
            e,
            SeriesError::FrameCount {
                items: 3,
                frames: 4,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("count.dcm"), "{e}");
    // No plane position: the first frame's ImagePositionPatient is missing.
    let mut bad = good.clone();
    let at = bad
        .windows(4)
        .position(|w| w == [0x20, 0, 0x13, 0x91])
        .unwrap();
    bad[at + 2] = 0x14; // (0020,9114): not PlanePositionSequence
    let f = write(dir.path(), "nopos.dcm", &bad);
    let e = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap_err();
    assert!(
        matches!(&e, SeriesError::Geometry { keyword: "ImagePositionPatient", path } if path.contains("nopos.dcm (frame 1)")),
        "{e}"
    );
    // A damaged item length inside the per-frame groups.
    let mut bad = good.clone();
    let at = bad
        .windows(4)
        .position(|w| w == [0x20, 0, 0x13, 0x91])
        .unwrap();
    bad[at + 8..at + 12].copy_from_slice(&0x00FF_FFF0u32.to_le_bytes());
    let f = write(dir.path(), "len.dcm", &bad);
    let e = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap_err();
    assert!(e.to_string().contains("len.dcm"), "{e}");
    // Every truncation is an error, never a panic.
    for cut in (200..good.len()).step_by(97) {
        let f = write(dir.path(), "cut.dcm", &good[..cut]);
        assert!(
            bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn legacy_multiframe_matches_dcm2niix() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = oblique(34, 6, 1);
    s.rescale = Some((0.5, 3.0));
    let f = write(
        dir.path(),
        "legacy.dcm",
        &bomdata_testdata::dicom_mf::legacy_multiframe(&s),
    );
    let (v, g) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap();
    assert!(g.is_none());
    assert_eq!(v.shape, [7, 5, 6]);
    let classic = bomdata_testdata::dicom::write_series(&dir.path().join("c"), &s, |k, t| {
        format!("c{t}_{k}.dcm")
    });
    let cv = bomdata_dicom::series::volume(&classic).unwrap();
    for (a, b) in cv.affine.iter().flatten().zip(v.affine.iter().flatten()) {
        assert!((a - b).abs() < 1e-9, "{:?} vs {:?}", cv.affine, v.affine);
    }
    assert_eq!(cv.data, v.data);
    if dcm2niix_present() {
        compare(&[f], &v, None, dir.path(), "legacy");
    }
}

#[test]
fn enhanced_objects_of_one_series_pool_their_frames() {
    let dir = tempfile::tempdir().unwrap();
    let s = oblique(35, 3, 1);
    let mut s2 = s.clone();
    s2.rescale = Some((3.0, 1.0));
    let a = write(dir.path(), "a.dcm", &enhanced_mr(&s, &Enhanced::default()));
    let b = write(dir.path(), "b.dcm", &enhanced_mr(&s2, &Enhanced::default()));
    let (v, _) = bomdata_dicom::multiframe::volume(&[a, b]).unwrap();
    assert_eq!(v.shape, [7, 5, 3, 2]);
    let n = 7 * 5 * 3;
    for (x, y) in v.data[..n].iter().zip(&v.data[n..]) {
        assert_eq!(*y, x * 3.0 + 1.0);
    }
}

#[test]
fn enhanced_pet_matches_dcm2niix() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = oblique(36, 3, 3);
    s.modality = "PT";
    s.rescale = Some((0.25, 0.0));
    let o = Enhanced {
        pet: Some(bomdata_testdata::dicom::PetHeaders {
            series_time_s: 36_000.0,
            starts_s: vec![0.0, 300.0, 900.0],
            durations_s: vec![300.0, 600.0, 600.0],
            injection_time_s: 33_000.0,
            dose_bq: Some(3.7e8),
            half_life_s: 6586.2,
            weight_kg: Some(70.0),
            decay: "START",
            units: "BQML",
        }),
        ..Default::default()
    };
    let f = write(dir.path(), "pet.dcm", &enhanced_mr(&s, &o));
    let mut got = Vec::new();
    let st = bomdata_dicom::multiframe::stack(std::slice::from_ref(&f), |_, _, _, px| {
        got.extend_from_slice(px)
    })
    .unwrap();
    assert_eq!(st.geometry.shape, [7, 5, 3, 3]);
    let durations: Vec<Option<f64>> = st.volume_times.iter().map(|v| v.1).collect();
    assert_eq!(
        durations,
        [Some(300_000.0), Some(600_000.0), Some(600_000.0)]
    );
    let (v, _) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap();
    if dcm2niix_present() {
        compare(&[f], &v, None, dir.path(), "pet");
    }
}

/// Re-encodes an explicit VR little endian data set (`b`, from `p` to `end`) as implicit VR
/// little endian, items and sequences included (defined lengths recomputed).
fn to_implicit(b: &[u8], mut p: usize, end: usize) -> Vec<u8> {
    let u16_at = |p: usize| u16::from_le_bytes([b[p], b[p + 1]]);
    let u32_at = |p: usize| u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
    let mut out = Vec::new();
    while p < end {
        let group = u16_at(p);
        let vr = [b[p + 4], b[p + 5]];
        let long = matches!(&vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT");
        let (len, hl) = if long {
            (u32_at(p + 8), 12)
        } else {
            (u32::from(u16_at(p + 6)), 8)
        };
        assert_ne!(group, 0xFFFE);
        let start = p + hl;
        out.extend(&b[p..p + 4]);
        if &vr == b"SQ" {
            let undefined = len == u32::MAX;
            let mut q = start;
            let mut items = Vec::new();
            loop {
                if undefined && u32_at(q) == 0xE0DD_FFFE {
                    q += 8;
                    break;
                }
                if !undefined && q >= start + len as usize {
                    break;
                }
                let ilen = u32_at(q + 4) as usize;
                let body = to_implicit(b, q + 8, q + 8 + ilen);
                items.extend([0xFE, 0xFF, 0x00, 0xE0]);
                items.extend((body.len() as u32).to_le_bytes());
                items.extend(body);
                q += 8 + ilen;
            }
            if undefined {
                out.extend(u32::MAX.to_le_bytes());
                out.extend(items);
                out.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
            } else {
                out.extend((items.len() as u32).to_le_bytes());
                out.extend(items);
            }
            p = q;
        } else {
            out.extend(len.to_le_bytes());
            out.extend(&b[start..start + len as usize]);
            p = start + len as usize;
        }
    }
    out
}

/// The same file in implicit VR little endian.
fn implicit_file(f: &[u8]) -> Vec<u8> {
    let meta_len = u32::from_le_bytes([f[140], f[141], f[142], f[143]]) as usize;
    let data_at = 144 + meta_len;
    let meta = &f[132..data_at];
    let explicit = b"1.2.840.10008.1.2.1\0";
    let at = meta
        .windows(explicit.len())
        .position(|w| w == explicit)
        .unwrap();
    let mut m = meta[..at - 2].to_vec();
    m.extend(18u16.to_le_bytes());
    m.extend(b"1.2.840.10008.1.2\0");
    m.extend(&meta[at + explicit.len()..]);
    let mut out = f[..132].to_vec();
    let group = (m.len() - 12) as u32;
    m[8..12].copy_from_slice(&group.to_le_bytes());
    out.extend(m);
    out.extend(to_implicit(f, data_at, f.len()));
    out
}

#[test]
fn implicit_vr_objects_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    // Enhanced DWI.
    let s = oblique(37, 3, 3);
    let o = Enhanced {
        diffusion: Some(dwi_table(3)),
        per_frame_rescale: true,
        ..Default::default()
    };
    let explicit = enhanced_mr(&s, &o);
    let a = write(dir.path(), "ex.dcm", &explicit);
    let b = write(dir.path(), "im.dcm", &implicit_file(&explicit));
    assert_eq!(
        bomdata_dicom::open(&b).unwrap().transfer_syntax_uid,
        "1.2.840.10008.1.2"
    );
    let (va, ga) = bomdata_dicom::multiframe::volume(&[a]).unwrap();
    let (vb, gb) = bomdata_dicom::multiframe::volume(&[b]).unwrap();
    assert_eq!(va.data, vb.data);
    assert_eq!(va.affine, vb.affine);
    assert_eq!(ga, gb);
    assert!(ga.is_some());
    // Classic DWI with each vendor's private tags.
    for (n, vendor) in [
        Vendor::Standard,
        Vendor::Siemens,
        Vendor::Ge,
        Vendor::Philips,
    ]
    .into_iter()
    .enumerate()
    {
        let s = oblique(40 + n as u32, 2, 3);
        let d = dir.path().join(format!("{vendor:?}"));
        let files = write_dwi_series(&d, &s, vendor, &dwi_table(3), |k, t| {
            format!("i{t}_{k}.dcm")
        });
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            std::fs::write(f, implicit_file(&bytes)).unwrap();
        }
        let v = bomdata_dicom::series::volume(&files).unwrap();
        let g = bomdata_dicom::diffusion::of_series(&v.files, 2, &v.affine)
            .unwrap()
            .unwrap();
        assert_eq!(g.bvals, [0.0, 1000.0, 2000.0], "{vendor:?}");
        for (t, (_, dl)) in dwi_table(3).iter().enumerate().skip(1) {
            let w = world(g.bvecs[t], &v.affine);
            let ras = [-dl[0], -dl[1], dl[2]];
            assert!(
                w.iter().zip(ras).all(|(p, q)| (p - q).abs() < 1e-6),
                "{vendor:?} {t}: {w:?} {ras:?}"
            );
        }
    }
}

/// PackBits of `data` as literal runs only (valid RLE Lossless segments).
fn literal_runs(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(128) {
        out.push((chunk.len() - 1) as u8);
        out.extend(chunk);
    }
    if out.len() % 2 == 1 {
        out.push(0x80); // a no-op run, to keep segments even
    }
    out
}

/// The enhanced object `f` (native 16-bit pixel data last) re-encoded as RLE Lossless, one
/// fragment per frame.
fn rle_file(f: &[u8], frames: usize, frame_bytes: usize) -> Vec<u8> {
    let px_len = frames * frame_bytes;
    let at = f.len() - px_len - 12;
    assert_eq!(&f[at..at + 6], &[0xE0, 0x7F, 0x10, 0x00, b'O', b'W']);
    let mut out = f[..at].to_vec();
    let uid = b"1.2.840.10008.1.2.1\0";
    let u = out.windows(uid.len()).position(|w| w == uid).unwrap();
    out[u..u + uid.len()].copy_from_slice(b"1.2.840.10008.1.2.5\0");
    out.extend([
        0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    let mut frags = Vec::new();
    for frame in f[at + 12..].chunks(frame_bytes) {
        // Segment 0: the high bytes; segment 1: the low bytes (little-endian samples).
        let hi: Vec<u8> = frame.chunks(2).map(|c| c[1]).collect();
        let lo: Vec<u8> = frame.chunks(2).map(|c| c[0]).collect();
        let (s0, s1) = (literal_runs(&hi), literal_runs(&lo));
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(&2u32.to_le_bytes());
        header[4..8].copy_from_slice(&64u32.to_le_bytes());
        header[8..12].copy_from_slice(&(64 + s0.len() as u32).to_le_bytes());
        frags.push([header, s0, s1].concat());
    }
    // The basic offset table: each frame's item from the first item.
    let mut offset = 0u32;
    out.extend([0xFE, 0xFF, 0x00, 0xE0]);
    out.extend((4 * frags.len() as u32).to_le_bytes());
    for frag in &frags {
        out.extend(offset.to_le_bytes());
        offset += 8 + frag.len() as u32;
    }
    for frag in frags {
        out.extend([0xFE, 0xFF, 0x00, 0xE0]);
        out.extend((frag.len() as u32).to_le_bytes());
        out.extend(frag);
    }
    out.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    out
}

#[test]
fn rle_enhanced_object_decodes_frame_by_frame() {
    let dir = tempfile::tempdir().unwrap();
    let s = oblique(38, 4, 2);
    let o = Enhanced {
        diffusion: Some(dwi_table(2)),
        ..Default::default()
    };
    let native = enhanced_mr(&s, &o);
    let a = write(dir.path(), "native.dcm", &native);
    let b = write(dir.path(), "rle.dcm", &rle_file(&native, 8, 7 * 5 * 2));
    let f = bomdata_dicom::open(&b).unwrap();
    assert_eq!(f.transfer_syntax_uid, "1.2.840.10008.1.2.5");
    let (va, ga) = bomdata_dicom::multiframe::volume(&[a]).unwrap();
    let (vb, gb) = bomdata_dicom::multiframe::volume(std::slice::from_ref(&b)).unwrap();
    // The same values as the native object (dcm2niix 1.0.20220720 refuses RLE stored as one
    // fragment per frame, "decompress with gdcmconv", so the native object is the reference;
    // it is compared with dcm2niix above).
    assert_eq!(va.data, vb.data);
    assert_eq!(ga, gb);
}

#[test]
fn siemens_mosaic_is_refused_by_the_multiframe_stacker() {
    let dir = tempfile::tempdir().unwrap();
    let s = oblique(39, 1, 1);
    let bytes = bomdata_testdata::dicom::instance_with(&s, 0, 0, |h| {
        h.insert(
            0x0008_0008,
            (*b"CS", b"ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC".to_vec()),
        );
    });
    let f = write(dir.path(), "mosaic.dcm", &bytes);
    let head = bomdata_dicom::open_header(&f).unwrap();
    assert!(bomdata_dicom::multiframe::is_mosaic(&head));
    let e = bomdata_dicom::multiframe::volume(std::slice::from_ref(&f)).unwrap_err();
    assert!(matches!(e, SeriesError::Mosaic { .. }), "{e}");
    assert!(e.to_string().contains("mosaic.dcm"), "{e}");
}

fn mosaic_series(number: u32, slices: usize, volumes: usize, flip: bool) -> Series {
    let mut s = oblique(number, slices, volumes);
    if flip {
        // Slices stored against row × column direction (SliceNormalVector negative).
        s.step = s.step.map(|x| -x);
    }
    s
}

#[test]
fn siemens_mosaics_match_dcm2niix() {
    if !dcm2niix_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, usize, usize, bool, Mosaic); 4] = [
        ("bold", 5, 3, false, Mosaic::default()),
        ("bold_flipped", 7, 2, true, Mosaic::default()),
        ("single", 4, 1, false, Mosaic::default()),
        (
            "private_count",
            6,
            2,
            false,
            Mosaic {
                private_count_only: true,
                ..Mosaic::default()
            },
        ),
    ];
    for (i, (name, slices, volumes, flip, m)) in cases.into_iter().enumerate() {
        let s = mosaic_series(50 + i as u32, slices, volumes, flip);
        let files = write_mosaic_series(&dir.path().join(name), &s, &m, |t| format!("{t}.dcm"));
        let (vol, grads) = bomdata_dicom::mosaic::volume(&files).unwrap();
        let mut want = vec![usize::from(s.cols), usize::from(s.rows), slices];
        if volumes > 1 {
            want.push(volumes);
        }
        assert_eq!(vol.shape, want, "{name}");
        assert!(grads.is_none(), "{name}");
        // Voxel (c, r, k, t) holds the stored pattern of slice k, and slice k lies on the
        // series' slice k.
        let (nx, ny) = (vol.shape[0], vol.shape[1]);
        for t in 0..volumes {
            for k in 0..slices {
                let v = vol.data[((t * slices + k) * ny + 3) * nx + 2];
                assert_eq!(v, f64::from(stored_value(&s, 2, 3, k, t)), "{name}");
            }
        }
        for (r, a) in vol.affine.iter().take(3).enumerate() {
            let sign = if r < 2 { -1.0 } else { 1.0 };
            let world = a[2] * 2.0 + a[3];
            let theirs = sign * (s.origin[r] + 2.0 * s.step[r]);
            assert!(
                (world - theirs).abs() < 1e-4,
                "{name}: slice 2 at {world} vs {theirs}"
            );
        }
        compare(&files, &vol, grads.as_ref(), dir.path(), name);
    }
}

#[test]
fn siemens_mosaic_dwi_matches_dcm2niix() {
    if !dcm2niix_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = dwi_table(5);
    for (name, flip) in [("dwi", false), ("dwi_flipped", true)] {
        let s = mosaic_series(if flip { 61 } else { 60 }, 5, table.len(), flip);
        let m = Mosaic {
            diffusion: Some(table.clone()),
            ..Mosaic::default()
        };
        let files = write_mosaic_series(&dir.path().join(name), &s, &m, |t| format!("{t}.dcm"));
        let (vol, grads) = bomdata_dicom::mosaic::volume(&files).unwrap();
        let g = grads.unwrap();
        assert_eq!(g.bvals, table.iter().map(|x| x.0).collect::<Vec<_>>());
        // dcm2niix negates the whole direction of a mosaic stored against row × column
        // (SliceNormalVector negative): the same encoding.
        compare_signed(&files, &vol, Some(&g), dir.path(), name, flip);
    }
}

#[test]
fn corrupt_csa_headers_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = mosaic_series(70, 5, 1, false);
    let good = csa2(&[("NumberOfImagesInMosaic", "US", vec!["5".into()])]);
    let mut many = good.clone();
    many[8..12].copy_from_slice(&100_000u32.to_le_bytes());
    let mut long_item = good.clone();
    // The first item's length (second u32 of its header, after the 16-byte header and one
    // 84-byte tag) made huge.
    long_item[16 + 84 + 4..16 + 84 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "truncated.dcm",
            good[..good.len() - 9].to_vec(),
            "truncated",
        ),
        ("cut_in_tag.dcm", good[..60].to_vec(), "truncated"),
        ("tag_count.dcm", many, "100000 tags"),
        ("item_length.dcm", long_item, "truncated"),
        ("not_sv10.dcm", b"GARBAGE!GARBAGE!".to_vec(), "SV10"),
    ];
    for (name, csa, says) in cases {
        let m = Mosaic {
            csa_override: Some(csa),
            ..Mosaic::default()
        };
        let f = write(dir.path(), name, &mosaic_instance(&s, 0, &m));
        let e = bomdata_dicom::mosaic::volume(std::slice::from_ref(&f)).unwrap_err();
        assert!(matches!(e, SeriesError::Csa { .. }), "{name}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(name) && msg.contains(says), "{name}: {msg}");
    }
    // A CSA header without the count, and no (0019,100A): refused by name.
    let m = Mosaic {
        csa_override: Some(csa2(&[("EchoLinePosition", "IS", vec!["32".into()])])),
        ..Mosaic::default()
    };
    let f = write(dir.path(), "no_count.dcm", &mosaic_instance(&s, 0, &m));
    let e = bomdata_dicom::mosaic::volume(std::slice::from_ref(&f)).unwrap_err();
    assert!(matches!(e, SeriesError::MosaicCount { .. }), "{e}");
    assert!(e.to_string().contains("no_count.dcm"), "{e}");
    // A count the mosaic cannot hold.
    let m = Mosaic {
        csa_override: Some(csa2(&[("NumberOfImagesInMosaic", "US", vec!["50".into()])])),
        ..Mosaic::default()
    };
    let f = write(dir.path(), "grid.dcm", &mosaic_instance(&s, 0, &m));
    let e = bomdata_dicom::mosaic::volume(std::slice::from_ref(&f)).unwrap_err();
    assert!(matches!(e, SeriesError::MosaicGrid { .. }), "{e}");
    assert!(e.to_string().contains("grid.dcm"), "{e}");
}

fn philips_series(dir: &Path, s: &Series, manufacturer: &[u8], ss: Option<f32>) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..s.slices)
        .map(|k| {
            let b = bomdata_testdata::dicom::instance_with(s, k, 0, |h| {
                h.insert(0x0008_0070, (*b"LO", manufacturer.to_vec()));
                h.insert(0x2005_0010, (*b"LO", b"Philips MR Imaging DD 001".to_vec()));
                if let Some(ss) = ss {
                    h.insert(0x2005_100E, (*b"FL", ss.to_le_bytes().to_vec()));
                }
            });
            write(dir, &format!("{k}.dcm"), &b)
        })
        .collect()
}

#[test]
fn philips_scale_slope_gives_dcm2niix_precise_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = oblique(80, 3, 1);
    s.rescale = Some((2.5, -10.0));
    let cases: [(&str, &[u8], Option<f32>); 3] = [
        ("philips_ss", b"Philips Medical Systems", Some(0.25)),
        ("philips_no_ss", b"Philips Medical Systems", None),
        ("siemens_ss", b"SIEMENS", Some(0.25)),
    ];
    for (name, manufacturer, ss) in cases {
        let files = philips_series(&dir.path().join(name), &s, manufacturer, ss);
        let head = bomdata_dicom::open_header(&files[0]).unwrap();
        let philips = manufacturer.starts_with(b"Philips") && ss.is_some();
        assert_eq!(
            bomdata_dicom::philips::scale_slope(&head),
            philips.then_some(0.25),
            "{name}"
        );
        let vol = bomdata_dicom::series::volume(&files).unwrap();
        let sv = f64::from(stored_value(&s, 1, 2, 0, 0));
        let want = if philips {
            (sv * 2.5 - 10.0) / (2.5 * 0.25)
        } else {
            sv * 2.5 - 10.0
        };
        let got = vol.data[2 * usize::from(s.cols) + 1];
        assert!((got - want).abs() < 1e-9, "{name}: {got} vs {want}");
        if dcm2niix_present() {
            compare(&files, &vol, None, dir.path(), name);
        }
    }
}
