//! Series → volume: synthetic single-slice instances with real headers (axial, oblique), stacked
//! by `series::volume` and compared with `dcm2niix` (Debian package) on the same files: same
//! shape, every voxel at the same world position (RAS+) with the same value. Skips with a message
//! when `dcm2niix` is absent. Also: gaps, duplicates and tilt are refused by name.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

use bomdata_dicom::SeriesError;
use bomdata_dicom::series::{Volume, group, volume};

fn el(tag: u32, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" { 0 } else { b' ' });
    }
    let mut v = Vec::new();
    v.extend(((tag >> 16) as u16).to_le_bytes());
    v.extend((tag as u16).to_le_bytes());
    v.extend(vr);
    if matches!(vr, b"OB" | b"OW") {
        v.extend([0, 0]);
        v.extend((value.len() as u32).to_le_bytes());
    } else {
        v.extend((value.len() as u16).to_le_bytes());
    }
    v.extend(value);
    v
}

fn ds(v: &[f64]) -> Vec<u8> {
    v.iter()
        .map(|x| format!("{x}"))
        .collect::<Vec<_>>()
        .join("\\")
        .into_bytes()
}

struct Geo {
    iop: [f64; 6],
    rows: u16,
    cols: u16,
    spacing: [f64; 2],
}

/// One MR slice at `ipp`, pixel values `k * 1000 + r * cols + c - 50`.
fn slice(dir: &Path, series: &str, k: usize, ipp: [f64; 3], g: &Geo) -> PathBuf {
    let sop = format!("1.2.826.0.1.3680043.2.1125.9.{series}.{k}");
    let us = |tag, v: u16| el(tag, b"US", &v.to_le_bytes());
    let mut b = Vec::new();
    b.extend(el(0x0008_0016, b"UI", b"1.2.840.10008.5.1.4.1.1.4"));
    b.extend(el(0x0008_0018, b"UI", sop.as_bytes()));
    b.extend(el(0x0008_0060, b"CS", b"MR"));
    b.extend(el(0x0010_0010, b"PN", b"Doe^Jane"));
    b.extend(el(0x0010_0020, b"LO", b"ID7"));
    b.extend(el(0x0018_0050, b"DS", &ds(&[2.5])));
    b.extend(el(0x0020_000D, b"UI", b"1.2.826.0.1.3680043.2.1125.9.1"));
    b.extend(el(
        0x0020_000E,
        b"UI",
        format!("1.2.826.0.1.3680043.2.1125.9.{series}").as_bytes(),
    ));
    b.extend(el(0x0020_0011, b"IS", series.as_bytes()));
    b.extend(el(0x0020_0013, b"IS", format!("{}", k + 1).as_bytes()));
    b.extend(el(0x0020_0032, b"DS", &ds(&ipp)));
    b.extend(el(0x0020_0037, b"DS", &ds(&g.iop)));
    b.extend(us(0x0028_0002, 1));
    b.extend(el(0x0028_0004, b"CS", b"MONOCHROME2"));
    b.extend(us(0x0028_0010, g.rows));
    b.extend(us(0x0028_0011, g.cols));
    b.extend(el(0x0028_0030, b"DS", &ds(&g.spacing)));
    b.extend(us(0x0028_0100, 16));
    b.extend(us(0x0028_0101, 16));
    b.extend(us(0x0028_0102, 15));
    b.extend(us(0x0028_0103, 1));
    let n = usize::from(g.rows) * usize::from(g.cols);
    let px: Vec<u8> = (0..n)
        .flat_map(|p| ((k * 1000 + p) as i16 - 50).to_le_bytes())
        .collect();
    b.extend(el(0x7FE0_0010, b"OW", &px));
    let mut meta = el(0x0002_0001, b"OB", &[0, 1]);
    meta.extend(el(0x0002_0002, b"UI", b"1.2.840.10008.5.1.4.1.1.4"));
    meta.extend(el(0x0002_0003, b"UI", sop.as_bytes()));
    meta.extend(el(0x0002_0010, b"UI", b"1.2.840.10008.1.2.1"));
    let mut f = vec![0u8; 128];
    f.extend(b"DICM");
    f.extend(el(0x0002_0000, b"UL", &(meta.len() as u32).to_le_bytes()));
    f.extend(meta);
    f.extend(b);
    // Written out of slice order, so sorting is tested.
    let path = dir.join(format!("s{series}_{:02}.dcm", (k * 7) % 11));
    std::fs::write(&path, f).unwrap();
    path
}

/// Slices at `origin + k * step`.
fn series(
    dir: &Path,
    name: &str,
    n: usize,
    origin: [f64; 3],
    step: [f64; 3],
    g: &Geo,
) -> Vec<PathBuf> {
    (0..n)
        .map(|k| {
            slice(
                dir,
                name,
                k,
                [0, 1, 2].map(|i| origin[i] + k as f64 * step[i]),
                g,
            )
        })
        .collect()
}

fn normal(g: &Geo) -> [f64; 3] {
    let (a, b) = (&g.iop[..3], &g.iop[3..]);
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

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

/// Every voxel of ours lands on a voxel of dcm2niix's with the same value.
fn compare_with_dcm2niix(files: &[PathBuf], ours: &Volume, dir: &Path, name: &str) {
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
        "dcm2niix: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r = bomdata_nifti::Reader::open(&dir.join(format!("{name}.nii"))).unwrap();
    let h = r.header().clone();
    let shape: Vec<usize> = h.shape().iter().map(|&x| x as usize).collect();
    let (mut theirs, mut vol): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    while r.read_volume_f64(&mut vol).unwrap() {
        theirs.extend(&vol);
    }
    let b = h.best_affine();
    let mut sorted = shape.clone();
    sorted.sort_unstable();
    let mut mine = ours.shape.clone();
    mine.sort_unstable();
    assert_eq!(sorted, mine, "{name}: shapes {shape:?} vs {:?}", ours.shape);
    let inv = inverse3([0, 1, 2].map(|r| [b[r][0], b[r][1], b[r][2]]));
    let (nx, ny, nz) = (ours.shape[0], ours.shape[1], ours.shape[2]);
    let their_vol = shape[..3].iter().product::<usize>();
    for (n, &value) in ours.data.iter().enumerate() {
        let ijk = [n % nx, (n / nx) % ny, (n / (nx * ny)) % nz].map(|x| x as f64);
        let vt = n / (nx * ny * nz);
        let a = ours.affine;
        let w: [f64; 3] = [0, 1, 2]
            .map(|r| a[r][0] * ijk[0] + a[r][1] * ijk[1] + a[r][2] * ijk[2] + a[r][3] - b[r][3]);
        let t = [0, 1, 2].map(|r| inv[r][0] * w[0] + inv[r][1] * w[1] + inv[r][2] * w[2]);
        let idx = t.map(|x| x.round());
        for (x, r) in t.iter().zip(idx) {
            assert!(
                (x - r).abs() < 1e-4,
                "{name}: voxel {ijk:?} lands at {t:?} in dcm2niix's grid"
            );
        }
        let (i, j, k) = (idx[0] as usize, idx[1] as usize, idx[2] as usize);
        assert!(
            i < shape[0] && j < shape[1] && k < shape[2],
            "{name}: {ijk:?} → {idx:?} outside {shape:?}"
        );
        let theirs_at = theirs[vt * their_vol + i + shape[0] * (j + shape[1] * k)];
        assert_eq!(theirs_at, value, "{name}: value at {ijk:?} volume {vt}");
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

#[test]
fn axial_and_oblique_series_match_dcm2niix() {
    let dir = tempfile::tempdir().unwrap();
    let axial = Geo {
        iop: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        rows: 6,
        cols: 5,
        spacing: [0.8, 0.6],
    };
    let (c, s) = (0.3f64.cos(), 0.3f64.sin());
    let (c8, s8) = (0.8f64.cos(), 0.8f64.sin());
    let oblique = Geo {
        iop: [c, s, 0.0, -s * c8, c * c8, s8],
        rows: 4,
        cols: 7,
        spacing: [1.1, 0.9],
    };
    let mut all = series(
        dir.path(),
        "1",
        3,
        [-10.0, 20.0, -5.0],
        [0.0, 0.0, 2.5],
        &axial,
    );
    let n = normal(&oblique);
    let files_b = series(
        dir.path(),
        "2",
        4,
        [3.0, -7.5, 12.0],
        n.map(|x| x * 1.7),
        &oblique,
    );
    all.extend(files_b.iter().cloned());
    let groups = group(&all);
    assert_eq!(groups.len(), 2);
    let do_compare = dcm2niix_present();
    for (k, files) in groups.values().enumerate() {
        let v = volume(files).unwrap();
        assert_eq!(v.data.len(), v.shape.iter().product::<usize>());
        if do_compare {
            compare_with_dcm2niix(files, &v, dir.path(), &format!("series{k}"));
        }
    }
    let a = volume(&groups["1.2.826.0.1.3680043.2.1125.9.1"]).unwrap();
    assert_eq!(a.shape, [5, 6, 3]);
    let _ = Volume::clone(&a);
    // Axial LPS → RAS: x and y negated; slice step +2.5 mm.
    let want = [
        [-0.6, 0.0, 0.0, 10.0],
        [0.0, -0.8, 0.0, -20.0],
        [0.0, 0.0, 2.5, -5.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    for (r, w) in a.affine.iter().zip(want) {
        for (x, y) in r.iter().zip(w) {
            assert!((x - y).abs() < 1e-9, "{:?}", a.affine);
        }
    }
    assert_eq!(a.data[0], -50.0);
    assert_eq!(a.data[30], 950.0);
}

#[test]
fn four_d_series_matches_dcm2niix() {
    let dir = tempfile::tempdir().unwrap();
    let g = Geo {
        iop: [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
        rows: 4,
        cols: 3,
        spacing: [1.5, 1.25],
    };
    // Sagittal, 3 positions × 2 volumes; instance numbers 1-3 then 4-6.
    let files: Vec<PathBuf> = (0..6)
        .map(|n| {
            slice(
                dir.path(),
                "7",
                n,
                [4.0 + 3.0 * (n % 3) as f64, -20.0, 35.0],
                &g,
            )
        })
        .collect();
    let v = volume(&files).unwrap();
    assert_eq!(v.shape, [3, 4, 3, 2]);
    // The normal (row × column) points to -x: the first slice is the one at x = 10 (n = 2, 5).
    assert_eq!(v.data[3 * 4 * 3], 4950.0);
    if dcm2niix_present() {
        compare_with_dcm2niix(&files, &v, dir.path(), "four_d");
    }
}

#[test]
fn gaps_duplicates_and_tilt_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let g = Geo {
        iop: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        rows: 2,
        cols: 2,
        spacing: [1.0, 1.0],
    };
    let mut files = series(dir.path(), "3", 3, [0.0; 3], [0.0, 0.0, 2.0], &g);
    files.push(slice(dir.path(), "3", 3, [0.0, 0.0, 10.0], &g));
    assert!(
        matches!(volume(&files), Err(SeriesError::Spacing { .. })),
        "{:?}",
        volume(&files).err()
    );
    let mut files = series(dir.path(), "4", 3, [0.0; 3], [0.0, 0.0, 2.0], &g);
    files.push(slice(dir.path(), "4", 3, [0.0, 0.0, 2.0], &g));
    assert!(matches!(
        volume(&files),
        Err(SeriesError::Uneven { min: 1, max: 2 })
    ));
    let files = series(dir.path(), "5", 3, [0.0; 3], [0.0, 0.5, 2.0], &g);
    assert!(matches!(volume(&files), Err(SeriesError::Tilted { .. })));
    assert!(matches!(volume(&[]), Err(SeriesError::Empty)));
}
