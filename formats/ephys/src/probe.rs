//! `bomdata probe` for BrainVision, EEGLAB, FIF and NWB (PROBE.md, "Signals").

use std::io;
use std::path::Path;

use bomdata_format_core::{ProbeOptions, Stats, json_f64};
use serde_json::{Value, json};

use crate::{Recording, SignalReader};

/// The probe format name when this crate handles `path` (by extension, confirmed by magic bytes
/// where the format has them), else `None`.
pub fn detect(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let head = read_head(path, 128).unwrap_or_default();
    match ext.as_str() {
        "vhdr" => {
            let h = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
            (h.starts_with(b"Brain Vision Data Exchange Header")
                || h.starts_with(b"BrainVision Data Exchange Header"))
            .then_some("brainvision")
        }
        "set" => (head.starts_with(b"MATLAB 5.0 MAT-file") || head.len() < 8 || is_hdf5(path))
            .then_some("eeglab"),
        "fif" => (head.len() >= 4 && head[..4] == [0, 0, 0, 100]).then_some("fif"),
        "nwb" => is_hdf5(path).then_some("nwb"),
        "gz" if path
            .to_string_lossy()
            .to_ascii_lowercase()
            .ends_with(".fif.gz") =>
        {
            None
        }
        _ => None,
    }
}

fn read_head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = f.read(&mut buf[got..])?;
        if k == 0 {
            break;
        }
        got += k;
    }
    buf.truncate(got);
    Ok(buf)
}

/// HDF5 signature at offset 0, 512, 1024, ... (a user block may precede it).
pub(crate) fn is_hdf5(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const SIG: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut off = 0u64;
    while off + 8 <= len && off <= 1 << 20 {
        let mut b = [0u8; 8];
        if f.seek(SeekFrom::Start(off)).is_err() || f.read_exact(&mut b).is_err() {
            return false;
        }
        if &b == SIG {
            return true;
        }
        off = if off == 0 { 512 } else { off * 2 };
    }
    false
}

/// Probes a file this crate handles and returns the PROBE.md object.
pub fn probe(path: &Path, opts: &ProbeOptions) -> io::Result<Value> {
    match detect(path) {
        Some("fif") if crate::fif::is_events_file(path)? => {
            let mut v = crate::fif::probe_events(path)?;
            v["path"] = json!(path.to_string_lossy());
            Ok(v)
        }
        Some(_) => {
            let (rec, mut reader) = crate::open(path)?;
            let mut v = report(&rec, reader.as_mut(), opts)?;
            v["path"] = json!(path.to_string_lossy());
            Ok(v)
        }
        None => Err(crate::Error::NotProbeable {
            path: path.to_path_buf(),
        }
        .into()),
    }
}

/// Builds the probe object of a recording by streaming its reader once.
pub fn report(
    rec: &Recording,
    reader: &mut dyn SignalReader,
    opts: &ProbeOptions,
) -> io::Result<Value> {
    let n_first = opts.first_or_default();
    let nch = rec.channels.len();
    let mut stats = vec![Stats::default(); nch];
    let mut first: Vec<Vec<f64>> = vec![Vec::new(); nch];
    let mut chunk = Vec::new();
    loop {
        let n = reader.read_chunk(65_536, &mut chunk)?;
        if n == 0 {
            break;
        }
        for (c, vals) in chunk.iter().enumerate().take(nch) {
            if first[c].len() < n_first {
                let k = (n_first - first[c].len()).min(vals.len());
                first[c].extend_from_slice(&vals[..k]);
            }
            stats[c].extend(vals.iter().copied());
        }
    }
    let channels: Vec<Value> = rec
        .channels
        .iter()
        .enumerate()
        .map(|(c, ch)| {
            let mut o = json!({
                "name": ch.name,
                "unit": ch.unit,
                "sampling_rate": json_f64(ch.sampling_rate),
                "n_samples": ch.n_samples,
                "first": first[c].iter().map(|&v| json_f64(v)).collect::<Vec<_>>(),
                "stats": stats[c].to_json(),
            });
            if let Some(k) = &ch.kind {
                o["type"] = json!(k);
            }
            if ch.offset_s != 0.0 {
                o["offset_s"] = json_f64(ch.offset_s);
            }
            if let Some(p) = ch.position {
                o["position"] = json!(p.iter().map(|&v| json_f64(v)).collect::<Vec<_>>());
            }
            o
        })
        .collect();
    let annotations: Vec<Value> = rec
        .annotations
        .iter()
        .map(|a| {
            json!({
                "onset": json_f64(a.onset),
                "duration": a.duration.map(json_f64),
                "text": a.text,
            })
        })
        .collect();
    let mut v = json!({
        "format": rec.format,
        // NWB keeps the UTC offset its session_start_time states; the others are local times.
        "start": rec.start.map(|s| if rec.format == "nwb" { s.to_iso() } else { s.to_iso_local() }),
        "duration_s": json_f64(rec.duration_s()),
        "channels": channels,
        "annotations": annotations,
    });
    if let Some(e) = rec.epochs {
        v["epochs"] = json!(e);
    }
    Ok(v)
}
