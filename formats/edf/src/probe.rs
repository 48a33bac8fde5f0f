//! `bomdata probe` for EDF/EDF+/BDF/BDF+ (see PROBE.md, "Signals").

use std::io::{self, Read};
use std::path::Path;

use bomdata_format_core::{ProbeOptions, Stats, json_f64};
use serde_json::{Value, json};

use crate::header::Plus;
use crate::record::{Annotation, Record};

/// The probe report of an EDF/BDF file: format, start (with the sub-second part of the first
/// record's time-keeping annotation), duration, EDF+D record onsets, channels (annotation
/// signals excluded) with first values and statistics in their physical unit, and every
/// annotation sorted by onset (ties in file order) relative to `start`.
pub fn probe(path: &Path, opts: &ProbeOptions) -> io::Result<Value> {
    let (mut reader, header) = crate::fs::open(path)?;
    let n_first = opts.first_or_default();
    let data: Vec<usize> = (0..header.signals.len())
        .filter(|&i| !header.signals[i].is_annotation())
        .collect();
    let mut stats = vec![Stats::default(); data.len()];
    let mut first: Vec<Vec<f64>> = vec![Vec::new(); data.len()];
    let mut counts = vec![0u64; data.len()];
    let mut onsets: Vec<f64> = Vec::new();
    let mut annotations: Vec<Annotation> = Vec::new();
    let has_ann = header.has_annotations();
    let mut rec = Record::default();
    let mut buf = Vec::new();
    let mut n_records = 0u64;
    while reader.read_record(&header, &mut rec)? != 0 {
        n_records += 1;
        for (k, &i) in data.iter().enumerate() {
            buf.clear();
            rec.read_physical(&header, i, &mut buf);
            counts[k] += buf.len() as u64;
            if first[k].len() < n_first {
                let take = (n_first - first[k].len()).min(buf.len());
                first[k].extend_from_slice(&buf[..take]);
            }
            stats[k].extend(buf.iter().copied());
        }
        if has_ann {
            let ra = rec.annotations(&header)?;
            if let Some(o) = ra.onset {
                onsets.push(o);
            }
            annotations.extend(ra.annotations);
        }
    }
    // EDF+: the first record's time-keeping onset is the sub-second (or later) start.
    let t0 = onsets.first().copied().unwrap_or(0.0);
    for a in &mut annotations {
        a.onset = round_ns(a.onset - t0);
    }
    annotations.sort_by(|a, b| a.onset.total_cmp(&b.onset));
    let channels: Vec<Value> = data
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let s = &header.signals[i];
            json!({
                "name": s.label,
                "unit": s.physical_dimension,
                "sampling_rate": s.sampling_rate(header.record_duration).map(json_f64),
                "n_samples": counts[k],
                "physical_min": json_f64(s.physical_min),
                "physical_max": json_f64(s.physical_max),
                "digital_min": s.digital_min,
                "digital_max": s.digital_max,
                "prefilter": s.prefilter,
                "transducer": s.transducer,
                "first": first[k].iter().copied().map(json_f64).collect::<Vec<_>>(),
                "stats": stats[k].to_json(),
            })
        })
        .collect();
    let mut out = json!({
        "format": header.format_name(),
        "path": path.to_string_lossy(),
        "start": header.start.iso_with_offset(t0),
        "duration_s": json_f64(n_records as f64 * header.record_duration),
        "n_records": n_records,
        "record_duration_s": json_f64(header.record_duration),
        "channels": channels,
        "annotations": annotations
            .iter()
            .map(|a| json!({
                "onset": json_f64(a.onset),
                "duration": a.duration.map(json_f64),
                "text": a.text,
            }))
            .collect::<Vec<_>>(),
    });
    if header.plus == Plus::Discontinuous {
        out["record_onsets_s"] = onsets.iter().map(|o| json_f64(round_ns(o - t0))).collect();
    }
    if opts.show_identity {
        out["patient"] = Value::String(header.patient.clone());
        out["recording"] = Value::String(header.recording.clone());
    }
    Ok(out)
}

/// TAL times are decimal text; the difference of two parsed onsets picks up binary noise
/// (290.10742189999996). TALs carry at most 100 ns resolution in practice, so rounding to 1 ns
/// restores the written decimal.
fn round_ns(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

/// The probe format name when this crate handles the file: `.edf`/`.bdf` by extension, and any
/// file (including `.rec`, which in TUH corpora is also used for CSV event files) whose first
/// bytes are the EDF (`0` and 7 spaces) or BDF (`\xffBIOSEMI`) version field. The name includes
/// `+c`/`+d` when the reserved field says so.
pub fn detect(path: &Path) -> Option<&'static str> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| {
            let mut n = 0;
            while n < head.len() {
                match f.read(&mut head[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        })
        .unwrap_or(0);
    let bdf = n >= 8 && head[0] == 0xff && &head[1..8] == b"BIOSEMI";
    let edf = n >= 8 && &head[..8] == b"0       ";
    let reserved = if n >= 236 { &head[192..236] } else { &[][..] };
    let plus = |p: &[u8]| reserved.len() >= 5 && (&reserved[..5] == p);
    if edf || (!bdf && ext.as_deref() == Some("edf")) {
        return Some(if plus(b"EDF+C") {
            "edf+c"
        } else if plus(b"EDF+D") {
            "edf+d"
        } else {
            "edf"
        });
    }
    if bdf || ext.as_deref() == Some("bdf") {
        return Some(if plus(b"BDF+C") || plus(b"EDF+C") {
            "bdf+c"
        } else if plus(b"BDF+D") || plus(b"EDF+D") {
            "bdf+d"
        } else {
            "bdf"
        });
    }
    None
}
