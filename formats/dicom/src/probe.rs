//! `bomdata probe` for DICOM: the "Images: DICOM" object of `PROBE.md`.

use std::io;
use std::path::Path;

use bomdata_format_core::{ProbeOptions, Stats, json_f64};
use serde_json::{Map, Value, json};

use crate::parse::File;
use crate::pixels::{Image, decode};

/// Identity attributes, printed only with `--show-identity`.
const IDENTITY: [(u32, &str); 8] = [
    (0x0010_0010, "PatientName"),
    (0x0010_0020, "PatientID"),
    (0x0010_0030, "PatientBirthDate"),
    (0x0010_0040, "PatientSex"),
    (0x0008_0080, "InstitutionName"),
    (0x0008_0090, "ReferringPhysicianName"),
    (0x0008_1050, "PerformingPhysicianName"),
    (0x0008_1070, "OperatorsName"),
];

fn floats(f: &File, tag: u32, n: usize) -> Value {
    match f.numbers(tag) {
        Some(v) if v.len() == n => Value::Array(v.into_iter().map(json_f64).collect()),
        _ => Value::Null,
    }
}

/// Where an `--at` index lands in the decoded samples.
fn locate(img: &Image, at: &[u64]) -> io::Result<usize> {
    let mut shape = Vec::new();
    if img.frames > 1 {
        shape.push(img.frames);
    }
    shape.extend([img.rows, img.columns]);
    if img.samples > 1 {
        shape.push(img.samples);
    }
    if at.len() != shape.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "index {at:?} has {} coordinates, the image has {} axes {shape:?}",
                at.len(),
                shape.len()
            ),
        ));
    }
    let mut off = 0usize;
    for (axis, (&i, &n)) in at.iter().zip(&shape).enumerate() {
        if i >= n as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("index {at:?} is out of range on axis {axis} (size {n})"),
            ));
        }
        off = off * n + i as usize;
    }
    Ok(off)
}

/// Probes a DICOM file: transfer syntax, image attributes, geometry, statistics over every
/// decoded sample after the modality LUT, the value at each `--at` index; identity attributes
/// only with `opts.show_identity`.
///
/// ```no_run
/// use bomdata_format_core::ProbeOptions;
/// let v = bomdata_dicom::probe::probe(std::path::Path::new("ct.dcm"), &ProbeOptions::default())?;
/// assert_eq!(v["format"], "dicom");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn probe(path: &Path, opts: &ProbeOptions) -> io::Result<Value> {
    let f = crate::open(path)?;
    let img = Image::from_file(&f)?;
    let targets = opts
        .at
        .iter()
        .map(|a| locate(&img, a))
        .collect::<io::Result<Vec<_>>>()?;
    let mut samples = decode(&f, &img)?;
    crate::multiframe::apply_rescale(&f, &img, &mut samples);
    let mut stats = Stats::default();
    stats.extend(samples.iter().copied());
    let values: Vec<Value> = opts
        .at
        .iter()
        .zip(&targets)
        .map(|(i, &k)| json!({"index": i, "value": samples.get(k).map_or(Value::Null, |&v| json_f64(v))}))
        .collect();
    let mut v = json!({
        "format": "dicom",
        "path": path.display().to_string(),
        "transfer_syntax_uid": f.transfer_syntax_uid,
        "modality": f.text(0x0008_0060),
        "rows": img.rows,
        "columns": img.columns,
        "frames": img.frames,
        "samples_per_pixel": img.samples,
        "photometric": img.photometric,
        "bits_allocated": img.bits_allocated,
        "bits_stored": img.bits_stored,
        "pixel_representation": u8::from(img.signed),
        "pixel_spacing": floats(&f, 0x0028_0030, 2),
        "slice_thickness": f.number(0x0018_0050).map_or(Value::Null, json_f64),
        "image_position_patient": floats(&f, 0x0020_0032, 3),
        "image_orientation_patient": floats(&f, 0x0020_0037, 6),
        "stats": stats.to_json(),
        "values": values,
    });
    if opts.show_identity {
        let id: Map<String, Value> = IDENTITY
            .iter()
            .map(|&(tag, name)| {
                (
                    name.to_string(),
                    f.text(tag).map_or(Value::Null, Value::String),
                )
            })
            .collect();
        v["identity"] = Value::Object(id);
    }
    Ok(v)
}

/// `Some("dicom")` for a `.dcm`/`.dicom` name or a file with `DICM` at byte 128.
///
/// ```
/// assert_eq!(bomdata_dicom::probe::detect(std::path::Path::new("/nonexistent/x.dcm")), Some("dicom"));
/// assert_eq!(bomdata_dicom::probe::detect(std::path::Path::new("/nonexistent/x.nii")), None);
/// ```
pub fn detect(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    if name.ends_with(".dcm") || name.ends_with(".dicom") {
        return Some("dicom");
    }
    let mut head = [0u8; 132];
    let mut file = std::fs::File::open(path).ok()?;
    io::Read::read_exact(&mut file, &mut head).ok()?;
    (&head[128..] == b"DICM").then_some("dicom")
}
