//! `bomdata probe` for NIfTI: the Volumes object of `PROBE.md`.

use std::io::{self, Read};
use std::path::Path;

use bomdata_format_core::{ProbeOptions, Stats, compression, json_f64};
use serde_json::{Value, json};

use crate::header::{Affine, Header};
use crate::io::Reader;

fn affine_json(a: &Affine) -> Value {
    Value::Array(
        a.iter()
            .map(|r| Value::Array(r.iter().map(|&v| json_f64(v)).collect()))
            .collect(),
    )
}

/// Where an `--at` index lands: (volume, first value within the volume).
fn locate(h: &Header, components: usize, at: &[u64]) -> io::Result<(u64, usize)> {
    let shape = h.shape();
    if at.is_empty() || at.len() > shape.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "index {at:?} has {} coordinates, the image has {} axes",
                at.len(),
                shape.len()
            ),
        ));
    }
    let mut full = vec![0u64; shape.len()];
    full[..at.len()].copy_from_slice(at);
    for (axis, (&i, &n)) in full.iter().zip(&shape).enumerate() {
        if i >= n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("index {at:?} is out of range on axis {axis} (size {n})"),
            ));
        }
    }
    let dims3: Vec<u64> = (0..3).map(|a| shape.get(a).copied().unwrap_or(1)).collect();
    let c = |a: usize| full.get(a).copied().unwrap_or(0);
    let within = c(0) + dims3[0] * (c(1) + dims3[1] * c(2));
    let mut volume = 0u64;
    for a in (3..shape.len()).rev() {
        volume = volume * shape[a] + full[a];
    }
    Ok((volume, within as usize * components))
}

/// Probes a NIfTI file: header fields, the trusted affine, scaling, extensions, statistics over
/// every scaled value (float64; complex and RGB(A) components are counted as separate values),
/// and the scaled value at each `opts.at` index (a number, or an array of components).
///
/// ```no_run
/// use bomdata_format_core::ProbeOptions;
/// let opts = ProbeOptions { at: vec![vec![0, 0, 0]], ..Default::default() };
/// let v = bomdata_nifti::probe::probe(std::path::Path::new("t1.nii.gz"), &opts)?;
/// assert_eq!(v["format"], "nifti");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn probe(path: &Path, opts: &ProbeOptions) -> io::Result<Value> {
    let mut r = Reader::open(path)?;
    let h = r.header().clone();
    let dt = r.datatype();
    let comps = dt.components();
    let targets = opts
        .at
        .iter()
        .map(|at| locate(&h, comps, at))
        .collect::<io::Result<Vec<_>>>()?;
    let mut values = vec![Value::Null; targets.len()];
    let mut stats = Stats::default();
    let mut vol: Vec<f64> = Vec::new();
    let mut t = 0u64;
    while r.read_volume_f64(&mut vol)? {
        stats.extend(vol.iter().copied());
        for (k, &(tv, off)) in targets.iter().enumerate() {
            if tv == t {
                values[k] = if comps == 1 {
                    json_f64(vol[off])
                } else {
                    Value::Array(vol[off..off + comps].iter().map(|&v| json_f64(v)).collect())
                };
            }
        }
        t += 1;
    }
    let (slope, inter) = h.scaling().unwrap_or((1.0, 0.0));
    let values: Vec<Value> = opts
        .at
        .iter()
        .zip(values)
        .map(|(i, v)| json!({"index": i, "value": v}))
        .collect();
    Ok(json!({
        "format": "nifti",
        "path": path.display().to_string(),
        "nifti_version": h.version.number(),
        "byte_order": h.byte_order.as_str(),
        "gzipped": r.gzipped(),
        "datatype_code": h.datatype_code,
        "dtype": dt.name(),
        "shape": h.shape(),
        "zooms": h.zooms().into_iter().map(json_f64).collect::<Vec<_>>(),
        "xyzt_units": [h.spatial_unit(), h.temporal_unit()],
        "qform_code": h.qform_code,
        "sform_code": h.sform_code,
        "affine": affine_json(&h.best_affine()),
        "qform_affine": affine_json(&h.qform()),
        "sform_affine": affine_json(&h.sform()),
        "scl_slope": json_f64(slope),
        "scl_inter": json_f64(inter),
        "vox_offset": json_f64(h.vox_offset),
        "descrip": h.descrip(),
        "intent_name": h.intent_name(),
        "aux_file": h.aux_file(),
        "extensions": r.extensions().iter().map(|e| json!({"code": e.code, "size": e.size})).collect::<Vec<_>>(),
        "stats": stats.to_json(),
        "values": values,
    }))
}

/// `Some("nifti")` when this crate reads `path`: a `.nii`/`.nii.gz` name, a `.hdr`(`.gz`) whose
/// magic is `ni1`/`ni2`, an `.img`(`.gz`) with such a `.hdr` beside it, or any file whose first
/// bytes (after gzip) are a NIfTI header.
///
/// ```
/// assert_eq!(bomdata_nifti::probe::detect(std::path::Path::new("/nonexistent/x.nii.gz")), Some("nifti"));
/// assert_eq!(bomdata_nifti::probe::detect(std::path::Path::new("/nonexistent/x.edf")), None);
/// ```
pub fn detect(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        return Some("nifti");
    }
    if name.ends_with(".img") || name.ends_with(".img.gz") {
        return match crate::io::reader::pair_paths(path) {
            Ok(Some((hdr, _))) => sniff(&hdr).then_some("nifti"),
            _ => None,
        };
    }
    sniff(path).then_some("nifti")
}

fn sniff(path: &Path) -> bool {
    let Ok((mut r, _)) = compression::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(540);
    if r.by_ref().take(540).read_to_end(&mut head).is_err() {
        return false;
    }
    Header::parse(&head).is_ok()
}
