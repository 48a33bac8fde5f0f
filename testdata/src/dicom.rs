//! Synthetic DICOM series: single-slice PS3.10 files (explicit VR little endian) with real
//! headers and generated int16 pixels, and two trees built from them: the ADNI raw download
//! layout (`PTID/description/date/ImageUID/*.dcm`) and a generic hospital folder (extensionless
//! files). Every identifying attribute the PS3.15 Basic Profile removes (patient name, ID,
//! birth date, institution, physicians, operator, station, accession, dates, UIDs) is set to a
//! recognisable string listed in [`IDENTIFYING`], plus a private tag, so a test can search the
//! outputs for them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The UID root of every generated UID (all UIDs start with it).
pub const UID_ROOT: &str = "1.2.826.0.1.3680043.2.1125.424242";

/// Strings of the generated headers that must never reach a shareable output.
pub const IDENTIFYING: &[&str] = &[
    "RECOGNISABLE^JANE",
    "RECOGNISABLE",
    "19370215",
    "SAINT ELSEWHERE HOSPITAL",
    "DR^REFERRINGWHO",
    "REFERRINGWHO",
    "OPERATOR^OTTO",
    "STATIONX42",
    "ACC99887766",
    "20060418",
    "2006-04-18",
    "082030",
    "PRIVATESECRETPAYLOAD",
    "SECRET PRIVATE CREATOR",
    "HOSP-PATIENT-4711",
    "HOSP-PATIENT-4712",
    "002_S_0295",
    "005_S_0100",
    "I45108",
    UID_ROOT,
];

/// One series to write.
#[derive(Clone, Debug)]
pub struct Series {
    /// PatientID.
    pub patient_id: String,
    /// Unique number of the series (its UIDs derive from it).
    pub number: u32,
    /// Study number (StudyInstanceUID derives from it).
    pub study: u32,
    /// Modality code (`MR`, `PT`).
    pub modality: &'static str,
    /// SeriesDescription.
    pub description: String,
    /// Rows and columns.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
    /// Slice positions.
    pub slices: usize,
    /// Instances per position (time points).
    pub volumes: usize,
    /// ImageOrientationPatient.
    pub iop: [f64; 6],
    /// PixelSpacing (row spacing, column spacing).
    pub spacing: [f64; 2],
    /// Position of the first slice.
    pub origin: [f64; 3],
    /// Step between slices.
    pub step: [f64; 3],
    /// RescaleSlope and RescaleIntercept.
    pub rescale: Option<(f64, f64)>,
    /// BurnedInAnnotation `YES`.
    pub burned_in: bool,
    /// PET frame timing and radiopharmaceutical headers (PT series).
    pub pet: Option<PetHeaders>,
}

/// The PET headers of a dynamic series: SeriesTime, per-volume AcquisitionTime (series time +
/// start), ActualFrameDuration, FrameReferenceTime (mid-frame), Units, DecayCorrection,
/// PatientWeight and a RadiopharmaceuticalInformationSequence item.
#[derive(Clone, Debug)]
pub struct PetHeaders {
    /// SeriesTime in seconds of the day.
    pub series_time_s: f64,
    /// Frame starts in seconds after the series time, one per volume.
    pub starts_s: Vec<f64>,
    /// Frame durations in seconds.
    pub durations_s: Vec<f64>,
    /// RadiopharmaceuticalStartTime in seconds of the day.
    pub injection_time_s: f64,
    /// RadionuclideTotalDose in Bq.
    pub dose_bq: Option<f64>,
    /// RadionuclideHalfLife in seconds.
    pub half_life_s: f64,
    /// PatientWeight in kg.
    pub weight_kg: Option<f64>,
    /// DecayCorrection (`START`, `ADMIN`, `NONE`).
    pub decay: &'static str,
    /// Units (`BQML`).
    pub units: &'static str,
}

/// A DICOM TM value of seconds of the day.
pub fn tm(s: f64) -> String {
    let whole = s.floor();
    let (h, m, sec) = (
        whole as u64 / 3600,
        whole as u64 / 60 % 60,
        whole as u64 % 60,
    );
    format!(
        "{h:02}{m:02}{sec:02}.{:06}",
        ((s - whole) * 1e6).round() as u64
    )
}

fn pet_headers(h: &mut BTreeMap<u32, ([u8; 2], Vec<u8>)>, p: &PetHeaders, t: usize) {
    let mut put = |tag: u32, vr: &[u8; 2], v: Vec<u8>| {
        h.insert(tag, (*vr, v));
    };
    let (start, dur) = (p.starts_s[t], p.durations_s[t]);
    put(0x0008_0031, b"TM", tm(p.series_time_s).into_bytes());
    put(0x0008_0032, b"TM", tm(p.series_time_s + start).into_bytes());
    put(
        0x0018_1242,
        b"IS",
        format!("{}", (dur * 1000.0).round() as i64).into_bytes(),
    );
    put(0x0054_1300, b"DS", ds(&[(start + dur / 2.0) * 1000.0]));
    put(0x0054_1001, b"CS", p.units.as_bytes().to_vec());
    put(0x0054_1102, b"CS", p.decay.as_bytes().to_vec());
    if let Some(w) = p.weight_kg {
        put(0x0010_1030, b"DS", ds(&[w]));
    }
    let mut item = element(0x0018_0031, b"LO", b"Florbetapir");
    item.extend(element(
        0x0018_1072,
        b"TM",
        tm(p.injection_time_s).as_bytes(),
    ));
    if let Some(d) = p.dose_bq {
        item.extend(element(0x0018_1074, b"DS", &ds(&[d])));
    }
    item.extend(element(0x0018_1075, b"DS", &ds(&[p.half_life_s])));
    let mut seq = vec![0xFE, 0xFF, 0x00, 0xE0];
    seq.extend((item.len() as u32).to_le_bytes());
    seq.extend(item);
    put(0x0054_0016, b"SQ", seq);
}

impl Series {
    /// An axial MR series of `slices` 4×6 slices, 1×1.5 mm pixels, 2.5 mm apart.
    pub fn axial(patient_id: &str, number: u32, description: &str, slices: usize) -> Series {
        Series {
            patient_id: patient_id.to_string(),
            number,
            study: 1,
            modality: "MR",
            description: description.to_string(),
            rows: 4,
            cols: 6,
            slices,
            volumes: 1,
            iop: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            spacing: [1.5, 1.0],
            origin: [-10.0, -20.0, 30.0],
            step: [0.0, 0.0, 2.5],
            rescale: None,
            burned_in: false,
            pet: None,
        }
    }

    /// The SeriesInstanceUID.
    pub fn uid(&self) -> String {
        format!("{UID_ROOT}.2.{}", self.number)
    }
}

pub(crate) fn element(tag: u32, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" { 0 } else { b' ' });
    }
    let mut v = Vec::with_capacity(value.len() + 12);
    v.extend(((tag >> 16) as u16).to_le_bytes());
    v.extend((tag as u16).to_le_bytes());
    v.extend(vr);
    if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ") {
        v.extend([0, 0]);
        v.extend((value.len() as u32).to_le_bytes());
    } else {
        v.extend((value.len() as u16).to_le_bytes());
    }
    v.extend(value);
    v
}

pub(crate) fn ds(v: &[f64]) -> Vec<u8> {
    let s: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    s.join("\\").into_bytes()
}

/// The pixel value of column `c`, row `r`, slice `k`, volume `t` (stored, before rescale).
pub fn stored_value(s: &Series, c: usize, r: usize, k: usize, t: usize) -> i16 {
    ((t * 3000 + k * 300 + r * usize::from(s.cols) + c) as i16).wrapping_sub(50)
}

/// The identifying and technical attributes every instance carries.
fn identifying(h: &mut BTreeMap<u32, ([u8; 2], Vec<u8>)>, s: &Series) {
    let mut put = |tag: u32, vr: &[u8; 2], v: &[u8]| {
        h.insert(tag, (*vr, v.to_vec()));
    };
    put(0x0008_0020, b"DA", b"20060418");
    put(0x0008_0021, b"DA", b"20060418");
    put(0x0008_0022, b"DA", b"20060418");
    put(0x0008_0030, b"TM", b"082030.000000");
    put(0x0008_0050, b"SH", b"ACC99887766");
    put(0x0008_0060, b"CS", s.modality.as_bytes());
    put(0x0008_0070, b"LO", b"SIEMENS");
    put(0x0008_0080, b"LO", b"SAINT ELSEWHERE HOSPITAL");
    put(0x0008_0090, b"PN", b"DR^REFERRINGWHO");
    put(0x0008_1010, b"SH", b"STATIONX42");
    put(0x0008_103E, b"LO", s.description.as_bytes());
    put(0x0008_1070, b"PN", b"OPERATOR^OTTO");
    put(0x0008_1090, b"LO", b"TrioTim");
    put(0x0010_0010, b"PN", b"RECOGNISABLE^JANE");
    put(0x0010_0020, b"LO", s.patient_id.as_bytes());
    put(0x0010_0030, b"DA", b"19370215");
    put(0x0018_0050, b"DS", b"2.5");
    put(0x0018_0080, b"DS", b"2300");
    put(0x0018_0081, b"DS", b"2.98");
    let study = format!("{UID_ROOT}.1.{}", s.study);
    put(0x0020_000D, b"UI", study.as_bytes());
    put(0x0020_000E, b"UI", s.uid().as_bytes());
    put(0x0020_0011, b"IS", s.number.to_string().as_bytes());
    let frame = format!("{UID_ROOT}.4.{}", s.study);
    put(0x0020_0052, b"UI", frame.as_bytes());
    put(0x0020_0037, b"DS", &ds(&s.iop));
    put(0x0029_0010, b"LO", b"SECRET PRIVATE CREATOR");
    put(0x0029_1010, b"OB", b"PRIVATESECRETPAYLOAD");
    let burned: &[u8] = if s.burned_in { b"YES" } else { b"NO" };
    put(0x0028_0301, b"CS", burned);
}

/// The bytes of instance (slice `k`, volume `t`) of `s`.
pub fn instance(s: &Series, k: usize, t: usize) -> Vec<u8> {
    instance_with(s, k, t, |_| {})
}

/// Header elements by tag: (VR, value bytes), written in tag order.
pub type Elements = BTreeMap<u32, ([u8; 2], Vec<u8>)>;

/// As [`instance`], with `extra` adding or replacing header elements before the file is
/// written (e.g. diffusion or vendor tags).
pub fn instance_with(s: &Series, k: usize, t: usize, extra: impl FnOnce(&mut Elements)) -> Vec<u8> {
    let sop = format!("{UID_ROOT}.3.{}.{}", s.number, t * s.slices + k + 1);
    let class: &[u8] = if s.modality == "PT" {
        b"1.2.840.10008.5.1.4.1.1.128"
    } else {
        b"1.2.840.10008.5.1.4.1.1.4"
    };
    let mut h: BTreeMap<u32, ([u8; 2], Vec<u8>)> = BTreeMap::new();
    identifying(&mut h, s);
    let ipp: Vec<f64> = (0..3).map(|i| s.origin[i] + k as f64 * s.step[i]).collect();
    let us = |v: u16| v.to_le_bytes().to_vec();
    for (tag, vr, v) in [
        (0x0008_0016, *b"UI", class.to_vec()),
        (0x0008_0018, *b"UI", sop.clone().into_bytes()),
        (
            0x0020_0013,
            *b"IS",
            (t * s.slices + k + 1).to_string().into_bytes(),
        ),
        (0x0020_0032, *b"DS", ds(&ipp)),
        (0x0028_0002, *b"US", us(1)),
        (0x0028_0004, *b"CS", b"MONOCHROME2".to_vec()),
        (0x0028_0010, *b"US", us(s.rows)),
        (0x0028_0011, *b"US", us(s.cols)),
        (0x0028_0030, *b"DS", ds(&s.spacing)),
        (0x0028_0100, *b"US", us(16)),
        (0x0028_0101, *b"US", us(16)),
        (0x0028_0102, *b"US", us(15)),
        (0x0028_0103, *b"US", us(1)),
    ] {
        h.insert(tag, (vr, v));
    }
    if let Some(p) = &s.pet {
        pet_headers(&mut h, p, t);
    }
    if let Some((slope, inter)) = s.rescale {
        h.insert(0x0028_1052, (*b"DS", ds(&[inter])));
        h.insert(0x0028_1053, (*b"DS", ds(&[slope])));
    }
    let px: Vec<u8> = (0..usize::from(s.rows))
        .flat_map(|r| (0..usize::from(s.cols)).map(move |c| (r, c)))
        .flat_map(|(r, c)| stored_value(s, c, r, k, t).to_le_bytes())
        .collect();
    h.insert(0x7FE0_0010, (*b"OW", px));
    extra(&mut h);
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
    f
}

/// Writes every instance of `s` into `dir` (created), named by `name(k, t)`, out of slice
/// order; returns the paths.
pub fn write_series(dir: &Path, s: &Series, name: impl Fn(usize, usize) -> String) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out = Vec::new();
    for t in 0..s.volumes {
        for k in (0..s.slices).rev() {
            let p = dir.join(name(k, t));
            std::fs::write(&p, instance(s, k, t))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push(p);
        }
    }
    out
}

/// The ADNI raw DICOM download tree: `002_S_0295` with an MPRAGE (5 axial slices, rescaled),
/// a resting-state fMRI (3 oblique slices × 3 volumes) and an AV45 PET series (4 slices, `PT`)
/// on a later date; `005_S_0100` with an MPRAGE whose instances say BurnedInAnnotation YES.
/// Returns the series with their folders.
pub fn adni_dicom_tree(root: &Path) -> Vec<(Series, PathBuf)> {
    let mut mprage = Series::axial("002_S_0295", 1, "MPRAGE", 5);
    mprage.rescale = Some((2.0, -10.0));
    let mut rest = Series::axial("002_S_0295", 2, "Resting_State_fMRI", 3);
    rest.volumes = 3;
    let (c, s) = (0.3f64.cos(), 0.3f64.sin());
    rest.iop = [c, s, 0.0, -s, c, 0.0];
    rest.step = [0.0, 0.0, 3.0];
    let mut pet = Series::axial("002_S_0295", 3, "AV45_Coreg,_Avg,_Std_Img_and_Vox_Siz", 4);
    pet.modality = "PT";
    pet.study = 2;
    let mut burned = Series::axial("005_S_0100", 4, "MPRAGE", 3);
    burned.burned_in = true;
    burned.study = 3;
    let plan = [
        (mprage, "2006-04-18_08_20_30.0", "I45108"),
        (rest, "2006-04-18_08_40_00.0", "I45109"),
        (pet, "2006-05-02_10_00_00.0", "I46000"),
        (burned, "2007-01-01_09_00_00.0", "I50000"),
    ];
    let mut out = Vec::new();
    for (s, date, image) in plan {
        let dir = root
            .join("ADNI")
            .join(&s.patient_id)
            .join(&s.description)
            .join(date)
            .join(image);
        let (pid, desc) = (s.patient_id.clone(), s.description.clone());
        write_series(&dir, &s, |k, t| {
            format!(
                "ADNI_{pid}_{}_{desc}_br_raw_20060418082030_{}_S1{:03}_{image}.dcm",
                s.modality,
                t * 100 + k + 1,
                s.number
            )
        });
        out.push((s, dir));
    }
    out
}

/// A generic hospital export: extensionless files, `HOSP-PATIENT-4711` with two series in one
/// folder (an axial T1 and a 2-volume series) and `HOSP-PATIENT-4712` with one. Returns the
/// series with their folders.
pub fn generic_dicom_tree(root: &Path) -> Vec<(Series, PathBuf)> {
    let t1 = Series::axial("HOSP-PATIENT-4711", 11, "t1_mprage_sag", 5);
    let mut two = Series::axial("HOSP-PATIENT-4711", 12, "ep2d_bold_rest", 2);
    two.volumes = 2;
    let mut other = Series::axial("HOSP-PATIENT-4712", 13, "t1_mprage_sag", 3);
    other.study = 5;
    other.rescale = Some((0.5, 100.0));
    let mut out = Vec::new();
    for (s, folder) in [
        (t1, "DICOM/0001"),
        (two, "DICOM/0001"),
        (other, "DICOM/0002"),
    ] {
        let dir = root.join(folder);
        let n = s.number;
        write_series(&dir, &s, |k, t| format!("IM{n}{t}{k:03}"));
        out.push((s, dir));
    }
    out
}
