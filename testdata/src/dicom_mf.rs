//! Synthetic diffusion and enhanced multi-frame DICOM with real header structure, built on the
//! [`crate::dicom`] series description and pixel pattern:
//!
//! - [`write_dwi_series`]: a classic single-slice DWI series whose b-values and gradient
//!   directions are in the standard tags or in one vendor's private tags (Siemens, GE, Philips,
//!   each with its private creator and Manufacturer);
//! - [`enhanced_mr`]: one Enhanced MR Image Storage object holding every frame of a series, with
//!   Shared and Per-frame Functional Groups (plane position and orientation, pixel measures,
//!   frame content with dimension index values, pixel value transformation, MR diffusion), frames
//!   stored out of slice order.

use std::path::{Path, PathBuf};

use crate::dicom::{
    Elements, PetHeaders, Series, UID_ROOT, ds, element, instance_with, stored_value, tm,
};

/// Where a DWI series carries its diffusion encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// DiffusionBValue (0018,9087) and DiffusionGradientOrientation (0018,9089).
    Standard,
    /// (0019,100C) B_value and (0019,100E) DiffusionGradientDirection, creator `SIEMENS MR
    /// HEADER`.
    Siemens,
    /// (0043,1039) b (first value) and (0019,10BB/BC/BD) along the row direction, minus the
    /// column direction and the normal.
    Ge,
    /// (2001,1003) b and (2005,10B0/B1/B2).
    Philips,
}

/// A small multi-shell table: a b = 0 volume, then directions at b = 1000 and 2000 s/mm²
/// (patient LPS, unit length), `n` volumes in all.
pub fn dwi_table(n: usize) -> Vec<(f64, [f64; 3])> {
    (0..n)
        .map(|t| {
            if t == 0 {
                return (0.0, [0.0; 3]);
            }
            let a = t as f64 * 1.1;
            let v = [a.cos() * 0.8, a.sin() * 0.8, 0.6 - 0.1 * t as f64];
            let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            let b = if t % 2 == 1 { 1000.0 } else { 2000.0 };
            (b, v.map(|x| x / len))
        })
        .collect()
}

fn fd(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn fl(v: f32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn ul(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn at(tag: u32) -> Vec<u8> {
    let mut v = ((tag >> 16) as u16).to_le_bytes().to_vec();
    v.extend((tag as u16).to_le_bytes());
    v
}

fn image_axes(s: &Series) -> [[f64; 3]; 3] {
    let (r, c) = (
        [s.iop[0], s.iop[1], s.iop[2]],
        [s.iop[3], s.iop[4], s.iop[5]],
    );
    let n = [
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    ];
    [r, c, n]
}

fn diffusion_tags(h: &mut Elements, s: &Series, vendor: Vendor, b: f64, g: [f64; 3]) {
    let mut put = |tag: u32, vr: &[u8; 2], v: Vec<u8>| {
        h.insert(tag, (*vr, v));
    };
    match vendor {
        Vendor::Standard => {
            put(0x0018_9087, b"FD", fd(&[b]));
            put(0x0018_9089, b"FD", fd(&g));
        }
        Vendor::Siemens => {
            put(0x0019_0010, b"LO", b"SIEMENS MR HEADER".to_vec());
            let dir: &[u8] = if b > 0.0 { b"DIRECTIONAL" } else { b"NONE" };
            put(0x0019_100C, b"IS", format!("{}", b.round()).into_bytes());
            put(0x0019_100D, b"CS", dir.to_vec());
            if b > 0.0 {
                put(0x0019_100E, b"FD", fd(&g));
            }
        }
        Vendor::Ge => {
            put(0x0008_0070, b"LO", b"GE MEDICAL SYSTEMS".to_vec());
            put(0x0019_0010, b"LO", b"GEMS_ACQU_01".to_vec());
            let axes = image_axes(s);
            // Row direction, minus the column direction, normal.
            let mut v = axes.map(|a| a[0] * g[0] + a[1] * g[1] + a[2] * g[2]);
            v[1] = -v[1];
            put(0x0019_10BB, b"DS", ds(&[v[0]]));
            put(0x0019_10BC, b"DS", ds(&[v[1]]));
            put(0x0019_10BD, b"DS", ds(&[v[2]]));
            put(0x0043_0010, b"LO", b"GEMS_PARM_01".to_vec());
            put(
                0x0043_1039,
                b"IS",
                format!("{}\\8\\0\\0", b.round()).into_bytes(),
            );
        }
        Vendor::Philips => {
            put(0x0008_0070, b"LO", b"Philips Medical Systems".to_vec());
            put(0x2001_0010, b"LO", b"Philips Imaging DD 001".to_vec());
            put(0x2001_1003, b"FL", fl(b as f32));
            let dir: &[u8] = if b > 0.0 { b"O" } else { b"I" };
            put(0x2001_1004, b"CS", dir.to_vec());
            put(0x2005_0010, b"LO", b"Philips MR Imaging DD 001".to_vec());
            put(0x2005_10B0, b"FL", fl(g[0] as f32));
            put(0x2005_10B1, b"FL", fl(g[1] as f32));
            put(0x2005_10B2, b"FL", fl(g[2] as f32));
        }
    }
}

/// Writes a classic DWI series (`s.volumes` must equal `table.len()`) into `dir`, each instance
/// with its volume's diffusion encoding in `vendor`'s tags; returns the paths.
pub fn write_dwi_series(
    dir: &Path,
    s: &Series,
    vendor: Vendor,
    table: &[(f64, [f64; 3])],
    name: impl Fn(usize, usize) -> String,
) -> Vec<PathBuf> {
    assert_eq!(s.volumes, table.len(), "one table entry per volume");
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out = Vec::new();
    for (t, &(b, g)) in table.iter().enumerate() {
        for k in (0..s.slices).rev() {
            let p = dir.join(name(k, t));
            let bytes = instance_with(s, k, t, |h| diffusion_tags(h, s, vendor, b, g));
            std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push(p);
        }
    }
    out
}

/// One sequence item holding `els` (each an encoded element, in tag order).
fn item(els: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = els.concat();
    let mut v = vec![0xFE, 0xFF, 0x00, 0xE0];
    v.extend((body.len() as u32).to_le_bytes());
    v.extend(body);
    v
}

fn sq(tag: u32, items: &[Vec<u8>]) -> Vec<u8> {
    element(tag, b"SQ", &items.concat())
}

/// An undefined-length sequence (items of defined length, then the delimiter).
fn sq_undefined(tag: u32, items: &[Vec<u8>]) -> Vec<u8> {
    let mut v = ((tag >> 16) as u16).to_le_bytes().to_vec();
    v.extend((tag as u16).to_le_bytes());
    v.extend(b"SQ\0\0");
    v.extend(0xFFFF_FFFFu32.to_le_bytes());
    v.extend(items.concat());
    v.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    v
}

/// How [`enhanced_mr`] writes its frames.
#[derive(Clone, Debug, Default)]
pub struct Enhanced {
    /// Per-volume diffusion encodings (MRDiffusionSequence per frame), patient LPS.
    pub diffusion: Option<Vec<(f64, [f64; 3])>>,
    /// RescaleSlope/Intercept per frame (slope 1 + t/2, intercept k) instead of `s.rescale` in
    /// the shared groups.
    pub per_frame_rescale: bool,
    /// An Enhanced PET Image Storage object (Modality `PT`) instead: SeriesDate/SeriesTime,
    /// Units, DecayCorrection, PatientWeight and the radiopharmaceutical item at the top level,
    /// FrameAcquisitionDateTime (series time + start) and FrameAcquisitionDuration per frame.
    pub pet: Option<PetHeaders>,
}

/// The rescale of frame (slice `k`, volume `t`) under [`Enhanced::per_frame_rescale`].
pub fn per_frame_rescale(k: usize, t: usize) -> (f64, f64) {
    (1.0 + 0.5 * t as f64, k as f64)
}

fn shared_group(s: &Series, o: &Enhanced) -> Vec<u8> {
    let gap = (s.step[0] * s.step[0] + s.step[1] * s.step[1] + s.step[2] * s.step[2]).sqrt();
    let mut els = Vec::new();
    if o.pet.is_none() {
        els.push(sq(
            0x0018_9112,
            &[item(&[element(0x0018_0080, b"FD", &fd(&[2300.0]))])],
        ));
    }
    els.extend([
        sq(
            0x0020_9116,
            &[item(&[element(0x0020_0037, b"DS", &ds(&s.iop))])],
        ),
        sq(
            0x0028_9110,
            &[item(&[
                element(0x0018_0050, b"DS", &ds(&[2.5])),
                element(0x0018_0088, b"DS", &ds(&[gap])),
                element(0x0028_0030, b"DS", &ds(&s.spacing)),
            ])],
        ),
    ]);
    if let (Some((slope, inter)), false) = (s.rescale, o.per_frame_rescale) {
        els.push(sq(
            0x0028_9145,
            &[item(&[
                element(0x0028_1052, b"DS", &ds(&[inter])),
                element(0x0028_1053, b"DS", &ds(&[slope])),
                element(0x0028_1054, b"LO", b"US"),
            ])],
        ));
    }
    item(&els)
}

fn frame_group(s: &Series, o: &Enhanced, k: usize, t: usize) -> Vec<u8> {
    let mut els = Vec::new();
    if let Some(table) = &o.diffusion {
        let (b, g) = table[t];
        let dir: &[u8] = if b > 0.0 { b"DIRECTIONAL" } else { b"NONE" };
        let mut inner = vec![element(0x0018_9075, b"CS", dir)];
        if b > 0.0 {
            inner.push(sq(
                0x0018_9076,
                &[item(&[element(0x0018_9089, b"FD", &fd(&g))])],
            ));
        }
        inner.push(element(0x0018_9087, b"FD", &fd(&[b])));
        els.push(sq(0x0018_9117, &[item(&inner)]));
    }
    let (k1, t1) = (k as u32 + 1, t as u32 + 1);
    let mut timing = Vec::new();
    if let Some(p) = &o.pet {
        let dt = format!("20060418{}", tm(p.series_time_s + p.starts_s[t]));
        timing.push(element(0x0018_9074, b"DT", dt.as_bytes()));
        timing.push(element(
            0x0018_9220,
            b"FD",
            &fd(&[p.durations_s[t] * 1000.0]),
        ));
    }
    els.push(sq(
        0x0020_9111,
        &[item(&[
            timing.concat(),
            element(0x0020_9056, b"SH", b"1"),
            element(0x0020_9057, b"UL", &ul(&[k1])),
            element(0x0020_9128, b"UL", &ul(&[t1])),
            element(0x0020_9157, b"UL", &ul(&[1, k1, t1])),
        ])],
    ));
    let ipp: Vec<f64> = (0..3).map(|i| s.origin[i] + k as f64 * s.step[i]).collect();
    els.push(sq(
        0x0020_9113,
        &[item(&[element(0x0020_0032, b"DS", &ds(&ipp))])],
    ));
    if o.per_frame_rescale {
        let (slope, inter) = per_frame_rescale(k, t);
        els.push(sq(
            0x0028_9145,
            &[item(&[
                element(0x0028_1052, b"DS", &ds(&[inter])),
                element(0x0028_1053, b"DS", &ds(&[slope])),
                element(0x0028_1054, b"LO", b"US"),
            ])],
        ));
    }
    item(&els)
}

/// The frames of an [`enhanced_mr`] object in storage order: volume by volume, slices in
/// reverse order within each.
pub fn frame_order(s: &Series) -> Vec<(usize, usize)> {
    (0..s.volumes)
        .flat_map(|t| (0..s.slices).rev().map(move |k| (k, t)))
        .collect()
}

fn pet_top(h: &mut Elements, p: &PetHeaders) {
    let mut put = |tag: u32, vr: &[u8; 2], v: Vec<u8>| {
        h.insert(tag, (*vr, v));
    };
    put(0x0008_0021, b"DA", b"20060418".to_vec());
    put(0x0008_0031, b"TM", tm(p.series_time_s).into_bytes());
    put(0x0054_1001, b"CS", p.units.as_bytes().to_vec());
    put(0x0054_1102, b"CS", p.decay.as_bytes().to_vec());
    if let Some(w) = p.weight_kg {
        put(0x0010_1030, b"DS", ds(&[w]));
    }
    let mut els = vec![
        element(0x0018_0031, b"LO", b"Florbetapir"),
        element(0x0018_1072, b"TM", tm(p.injection_time_s).as_bytes()),
    ];
    if let Some(d) = p.dose_bq {
        els.push(element(0x0018_1074, b"DS", &ds(&[d])));
    }
    els.push(element(0x0018_1075, b"DS", &ds(&[p.half_life_s])));
    put(0x0054_0016, b"SQ", item(&els));
}

/// One Enhanced MR (or, with [`Enhanced::pet`], Enhanced PET) Image Storage object (explicit VR little endian) holding every frame of `s`
/// ([`frame_order`]), pixel values [`stored_value`].
pub fn enhanced_mr(s: &Series, o: &Enhanced) -> Vec<u8> {
    let class: &[u8] = if o.pet.is_some() {
        b"1.2.840.10008.5.1.4.1.1.130"
    } else {
        b"1.2.840.10008.5.1.4.1.1.4.1"
    };
    let sop = format!("{UID_ROOT}.3.{}.1", s.number);
    let order = frame_order(s);
    let us = |v: u16| v.to_le_bytes().to_vec();
    let mut h: Elements = Elements::new();
    let mut put = |tag: u32, vr: &[u8; 2], v: Vec<u8>| {
        h.insert(tag, (*vr, v));
    };
    put(0x0008_0008, b"CS", b"ORIGINAL\\PRIMARY\\M\\NONE".to_vec());
    put(0x0008_0016, b"UI", class.to_vec());
    put(0x0008_0018, b"UI", sop.clone().into_bytes());
    put(0x0008_0020, b"DA", b"20060418".to_vec());
    let modality: &[u8] = if o.pet.is_some() { b"PT" } else { b"MR" };
    put(0x0008_0060, b"CS", modality.to_vec());
    put(0x0008_0070, b"LO", b"Philips Medical Systems".to_vec());
    put(0x0008_0080, b"LO", b"SAINT ELSEWHERE HOSPITAL".to_vec());
    put(0x0008_103E, b"LO", s.description.clone().into_bytes());
    put(0x0008_1090, b"LO", b"Ingenia".to_vec());
    put(0x0010_0010, b"PN", b"RECOGNISABLE^JANE".to_vec());
    put(0x0010_0020, b"LO", s.patient_id.clone().into_bytes());
    put(0x0010_0030, b"DA", b"19370215".to_vec());
    put(0x0018_0081, b"DS", b"89".to_vec());
    put(
        0x0020_000D,
        b"UI",
        format!("{UID_ROOT}.1.{}", s.study).into_bytes(),
    );
    put(0x0020_000E, b"UI", s.uid().into_bytes());
    put(0x0020_0011, b"IS", s.number.to_string().into_bytes());
    put(0x0020_0013, b"IS", b"1".to_vec());
    put(
        0x0020_0052,
        b"UI",
        format!("{UID_ROOT}.4.{}", s.study).into_bytes(),
    );
    let dim = |pointer: u32, group: u32| {
        item(&[
            element(0x0020_9165, b"AT", &at(pointer)),
            element(0x0020_9167, b"AT", &at(group)),
        ])
    };
    put(
        0x0020_9222,
        b"SQ",
        [
            dim(0x0020_9056, 0x0020_9111),
            dim(0x0020_9057, 0x0020_9111),
            dim(0x0020_9128, 0x0020_9111),
        ]
        .concat(),
    );
    put(0x0028_0002, b"US", us(1));
    put(0x0028_0004, b"CS", b"MONOCHROME2".to_vec());
    // Philips' slice orientation, which dcm2niix wants beside Philips diffusion vectors.
    put(0x2001_0010, b"LO", b"Philips Imaging DD 001".to_vec());
    put(0x2001_100B, b"CS", b"TRANSVERSAL".to_vec());
    put(0x0028_0008, b"IS", order.len().to_string().into_bytes());
    put(0x0028_0010, b"US", us(s.rows));
    put(0x0028_0011, b"US", us(s.cols));
    put(0x0028_0100, b"US", us(16));
    put(0x0028_0101, b"US", us(16));
    put(0x0028_0102, b"US", us(15));
    put(0x0028_0103, b"US", us(1));
    put(0x5200_9229, b"SQ", shared_group(s, o));
    if let Some(p) = &o.pet {
        pet_top(&mut h, p);
    }
    let px: Vec<u8> = order
        .iter()
        .flat_map(|&(k, t)| {
            (0..usize::from(s.rows)).flat_map(move |r| {
                (0..usize::from(s.cols))
                    .flat_map(move |c| stored_value(s, c, r, k, t).to_le_bytes())
            })
        })
        .collect();
    let per: Vec<Vec<u8>> = order
        .iter()
        .map(|&(k, t)| frame_group(s, o, k, t))
        .collect();
    let mut meta = element(0x0002_0001, b"OB", &[0, 1]);
    meta.extend(element(0x0002_0002, b"UI", class));
    meta.extend(element(0x0002_0003, b"UI", sop.as_bytes()));
    meta.extend(element(0x0002_0010, b"UI", b"1.2.840.10008.1.2.1"));
    let mut f = vec![0u8; 128];
    f.extend(b"DICM");
    f.extend(element(
        0x0002_0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    ));
    f.extend(meta);
    for (tag, (vr, v)) in h {
        f.extend(element(tag, &vr, &v));
    }
    // The per-frame groups with an undefined length, as many scanners write them.
    f.extend(sq_undefined(0x5200_9230, &per));
    f.extend(element(0x7FE0_0010, b"OW", &px));
    f
}

/// A legacy multi-frame MR object (MR Image Storage with NumberOfFrames, no functional groups):
/// every slice of volume 0 of `s` as a frame, in slice order, ImagePositionPatient of the first
/// slice and SpacingBetweenSlices the length of `s.step`.
pub fn legacy_multiframe(s: &Series) -> Vec<u8> {
    let mut single = s.clone();
    single.volumes = 1;
    let gap = (s.step[0] * s.step[0] + s.step[1] * s.step[1] + s.step[2] * s.step[2]).sqrt();
    crate::dicom::instance_with(&single, 0, 0, |h| {
        h.insert(0x0018_0088, (*b"DS", ds(&[gap])));
        h.insert(0x0028_0008, (*b"IS", s.slices.to_string().into_bytes()));
        let px: Vec<u8> = (0..s.slices)
            .flat_map(|k| {
                (0..usize::from(s.rows)).flat_map(move |r| {
                    (0..usize::from(s.cols))
                        .flat_map(move |c| stored_value(s, c, r, k, 0).to_le_bytes())
                })
            })
            .collect();
        h.insert(0x7FE0_0010, (*b"OW", px));
    })
}

/// How [`mosaic_instance`] writes a Siemens mosaic.
#[derive(Clone, Debug, Default)]
pub struct Mosaic {
    /// Write NumberOfImagesInMosaic in (0019,100A) only, without a CSA image header.
    pub private_count_only: bool,
    /// Replace the CSA image header by these bytes (e.g. a truncated one).
    pub csa_override: Option<Vec<u8>>,
    /// Per-volume diffusion encodings in the Siemens tags (patient LPS).
    pub diffusion: Option<Vec<(f64, [f64; 3])>>,
}

/// A CSA2 header (`SV10` layout) holding `tags` (name, VR, item values as text).
pub fn csa2(tags: &[(&str, &str, Vec<String>)]) -> Vec<u8> {
    let mut b = b"SV10\x04\x03\x02\x01".to_vec();
    b.extend(ul(&[tags.len() as u32, 77]));
    for (name, vr, items) in tags {
        let mut n = [0u8; 64];
        n.iter_mut().zip(name.bytes()).for_each(|(d, s)| *d = s);
        b.extend(n);
        b.extend(1i32.to_le_bytes());
        let mut v = [0u8; 4];
        v.iter_mut().zip(vr.bytes()).for_each(|(d, s)| *d = s);
        b.extend(v);
        b.extend(0i32.to_le_bytes());
        // Siemens writes at least six items per tag, the unused ones empty.
        let count = items.len().max(6);
        b.extend(ul(&[count as u32, 77]));
        for q in 0..count {
            let mut value = items
                .get(q)
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default();
            if !value.is_empty() {
                value.push(0);
            }
            let len = value.len() as u32;
            b.extend(ul(&[len, len, 77, len]));
            value.resize(value.len().div_ceil(4) * 4, 0);
            b.extend(value);
        }
    }
    b
}

/// The bytes of volume `t` of `s` as one Siemens mosaic: `s.slices` tiles of `s.rows` ×
/// `s.cols` in a `ceil(sqrt(slices))` square grid (unused tiles zero), ImageType `MOSAIC`,
/// ImagePositionPatient at the whole mosaic's corner (Siemens' convention), and the CSA image
/// header's NumberOfImagesInMosaic and SliceNormalVector (`s.step`'s direction).
pub fn mosaic_instance(s: &Series, t: usize, m: &Mosaic) -> Vec<u8> {
    let n = s.slices;
    let mut across = 1;
    while across * across < n {
        across += 1;
    }
    let (rows, cols) = (usize::from(s.rows), usize::from(s.cols));
    let (mr, mc) = (rows * across, cols * across);
    let mut px = vec![0i16; mr * mc];
    for k in 0..n {
        let (tr, tc) = (k / across, k % across);
        for r in 0..rows {
            for c in 0..cols {
                px[(tr * rows + r) * mc + tc * cols + c] = stored_value(s, c, r, k, t);
            }
        }
    }
    let (dx, dy) = (
        (mc - cols) as f64 / 2.0 * s.spacing[1],
        (mr - rows) as f64 / 2.0 * s.spacing[0],
    );
    let ipp: Vec<f64> = (0..3)
        .map(|i| s.origin[i] - s.iop[i] * dx - s.iop[3 + i] * dy)
        .collect();
    let dz = (s.step[0].powi(2) + s.step[1].powi(2) + s.step[2].powi(2)).sqrt();
    let normal: Vec<String> = s.step.iter().map(|x| format!("{:.8}", x / dz)).collect();
    instance_with(s, 0, t, |h| {
        let mut put = |tag: u32, vr: &[u8; 2], v: Vec<u8>| {
            h.insert(tag, (*vr, v));
        };
        put(
            0x0008_0008,
            b"CS",
            b"ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC".to_vec(),
        );
        put(0x0020_0013, b"IS", format!("{}", t + 1).into_bytes());
        put(0x0020_0032, b"DS", ds(&ipp));
        put(0x0018_0088, b"DS", ds(&[dz]));
        put(0x0028_0010, b"US", (mr as u16).to_le_bytes().to_vec());
        put(0x0028_0011, b"US", (mc as u16).to_le_bytes().to_vec());
        put(
            0x7FE0_0010,
            b"OW",
            px.iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
        put(0x0019_0010, b"LO", b"SIEMENS MR HEADER".to_vec());
        if m.private_count_only {
            put(0x0019_100A, b"US", (n as u16).to_le_bytes().to_vec());
            h.remove(&0x0029_0010);
            h.remove(&0x0029_1010);
        } else {
            put(0x0029_0010, b"LO", b"SIEMENS CSA HEADER".to_vec());
            let csa = m.csa_override.clone().unwrap_or_else(|| {
                csa2(&[
                    ("EchoLinePosition", "IS", vec!["32".into()]),
                    ("NumberOfImagesInMosaic", "US", vec![n.to_string()]),
                    ("SliceNormalVector", "FD", normal.clone()),
                    ("ImaRelTablePosition", "IS", vec!["0".into(); 3]),
                ])
            });
            put(0x0029_1010, b"OB", csa);
        }
        if let Some(d) = &m.diffusion {
            let (b, g) = d[t];
            diffusion_tags(h, s, Vendor::Siemens, b, g);
        }
    })
}

/// Writes every volume of `s` as one mosaic instance into `dir` (created), named by `name(t)`,
/// in reverse order; returns the paths.
pub fn write_mosaic_series(
    dir: &Path,
    s: &Series,
    m: &Mosaic,
    name: impl Fn(usize) -> String,
) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    (0..s.volumes)
        .rev()
        .map(|t| {
            let p = dir.join(name(t));
            std::fs::write(&p, mosaic_instance(s, t, m))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            p
        })
        .collect()
}
