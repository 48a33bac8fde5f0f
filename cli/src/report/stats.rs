//! Value statistics and previews per modality, from a bounded, evenly spread sample of each
//! modality's samples: voxel values and mid-slices of volumes (`volume.npy`), channel
//! amplitudes, line-noise power and traces of recordings (`signal.npy`), GC / N / soft-mask
//! fractions and base composition of DNA windows (`seq.txt`, `seq.npy`), and for any other
//! sample the values of its first numeric `.npy` member.

use std::collections::BTreeSet;

use bomdata_shard::npy::{self, Dtype};
use bomdata_shard::{Sample, reader};

use super::collect::{DatasetView, Located};

/// At most this many values of one sample enter a histogram.
const VALUES_PER_SAMPLE: usize = 20_000;

/// A volume's three orthogonal mid-slices: (title, width, height, values by row).
pub type Slices = Vec<(String, usize, usize, Vec<f32>)>;

/// An EEG preview: label, channel names, rate (Hz) and one row of values per channel.
pub type Traces = (String, Vec<String>, f64, Vec<Vec<f32>>);

/// What was gathered for one modality.
#[derive(Default)]
pub struct ModalityStats {
    /// Modality name.
    pub modality: String,
    /// Samples read.
    pub read: usize,
    /// Samples whose members could not be read (with the first error).
    pub unreadable: Vec<String>,
    /// Voxel values (non-zero), recording values or other tensor values.
    pub values: Vec<f64>,
    /// Axis label of `values`.
    pub values_label: String,
    /// EEG: per-channel RMS (signal units, mean removed).
    pub rms: Vec<f64>,
    /// EEG: per-channel share of the variance at the power-line frequency, in percent.
    pub line_noise: Vec<f64>,
    /// DNA: GC, N and soft-masked fractions per window.
    pub gc: Vec<f64>,
    /// DNA: N fraction per window.
    pub n: Vec<f64>,
    /// DNA: soft-masked (lower-case) fraction per window.
    pub soft: Vec<f64>,
    /// Volume previews: subject pseudonym (shortened) and slices.
    pub volumes: Vec<(String, Slices)>,
    /// EEG preview: label, channel names, rate, rows.
    pub traces: Option<Traces>,
    /// DNA preview: label and composition bins (A, C, G, T, N fractions) of `bin_bp` bases.
    pub composition: Option<(String, Vec<[f64; 5]>, usize)>,
}

/// Statistics of every modality of the datasets, reading at most `max_samples` samples of each
/// and previewing volumes of at most `max_subjects` subjects.
pub fn gather(
    views: &[DatasetView],
    max_samples: usize,
    max_subjects: usize,
) -> Vec<ModalityStats> {
    let mut out = Vec::new();
    for v in views {
        let modalities: BTreeSet<&str> = v
            .samples
            .iter()
            .map(|s| s.modality.as_str())
            .filter(|m| *m != "clinical_text")
            .collect();
        for m in modalities {
            let all: Vec<&Located> = v
                .samples
                .iter()
                .filter(|s| s.modality == m && !s.compressed)
                .collect();
            let name = if views.len() > 1 {
                format!("{}/{m}", super::collect::label(v))
            } else {
                m.to_string()
            };
            out.push(one(&name, &all, max_samples, max_subjects));
        }
    }
    out
}

/// The statistics of one dataset's samples of one modality.
fn one(name: &str, all: &[&Located], max_samples: usize, max_subjects: usize) -> ModalityStats {
    let mut st = ModalityStats {
        modality: name.to_string(),
        ..ModalityStats::default()
    };
    let step = all.len().div_ceil(max_samples.max(1)).max(1);
    let mut seen_subjects = BTreeSet::new();
    for loc in all.iter().step_by(step) {
        match reader::read_sample_at(&loc.shard, &loc.entry, true) {
            Ok(s) => {
                let subject = loc.entry.subject.clone().unwrap_or_default();
                let preview =
                    seen_subjects.len() < max_subjects && seen_subjects.insert(subject.clone());
                add_sample(&mut st, &s, &short(&subject), preview);
                st.read += 1;
            }
            Err(e) => st.unreadable.push(format!("{e}")),
        }
    }
    st
}

/// The first 8 hex digits of a pseudonym (enough to tell the previews apart).
fn short(subject: &str) -> String {
    let s: String = subject.chars().take(8).collect();
    if s.is_empty() {
        "(no subject)".into()
    } else {
        s
    }
}

fn member<'a>(s: &'a Sample, name: &str) -> Option<&'a [u8]> {
    s.members
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.data.as_slice())
}

fn meta(s: &Sample) -> serde_json::Value {
    member(s, "meta.json")
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default()
}

/// The values of a `.npy` member as f32 (numeric dtypes only).
fn values_f32(v: &npy::NpyView<'_>) -> Option<Vec<f32>> {
    let d = v.data;
    Some(match v.dtype {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        Dtype::I16 => d
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::U8 => d.iter().map(|&b| f32::from(b)).collect(),
        Dtype::I32 => d
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        _ => return None,
    })
}

fn add_sample(st: &mut ModalityStats, s: &Sample, subject: &str, preview: bool) {
    if let Some(b) = member(s, "volume.npy") {
        add_volume(st, b, subject, preview);
    } else if let Some(b) = member(s, "signal.npy") {
        add_signal(st, b, &meta(s), subject);
    } else if let Some(b) = member(s, "seq.txt").or_else(|| member(s, "seq.npy")) {
        let seq = if member(s, "seq.txt").is_some() {
            b
        } else {
            npy::decode(b).map(|v| v.data).unwrap_or_default()
        };
        add_dna(st, seq, subject);
    } else if let Some(m) = s.members.iter().find(|m| m.name.ends_with(".npy"))
        && let Some(v) = npy::decode(&m.data).ok().and_then(|v| values_f32(&v))
    {
        st.values_label = format!("{} values", m.name);
        let step = (v.len() / VALUES_PER_SAMPLE).max(1);
        st.values
            .extend(v.iter().step_by(step).map(|&x| f64::from(x)));
    }
}

fn add_volume(st: &mut ModalityStats, bytes: &[u8], subject: &str, preview: bool) {
    let Ok(view) = npy::decode(bytes) else { return };
    let Some(v) = values_f32(&view) else { return };
    st.values_label = "voxel value (non-zero voxels)".into();
    let step = (v.len() / VALUES_PER_SAMPLE).max(1);
    st.values.extend(
        v.iter()
            .step_by(step)
            .filter(|x| **x != 0.0)
            .map(|&x| f64::from(x)),
    );
    if preview && view.shape.len() >= 3 {
        let (x, y, z) = (view.shape[0], view.shape[1], view.shape[2]);
        let t: usize = view.shape[3..].iter().product();
        st.volumes
            .push((subject.to_string(), mid_slices(&v, x, y, z, t.max(1))));
    }
}

/// Axial, coronal and sagittal mid-slices of the first frame of a C-order `(x, y, z, t)` volume,
/// each with the superior/anterior side up.
fn mid_slices(v: &[f32], x: usize, y: usize, z: usize, t: usize) -> Slices {
    let at =
        |i: usize, j: usize, k: usize| v.get(((i * y + j) * z + k) * t).copied().unwrap_or(0.0);
    let (mx, my, mz) = (x / 2, y / 2, z / 2);
    // Rows from the top: highest y (anterior) or z (superior) first.
    let axial = (0..y)
        .rev()
        .flat_map(|j| (0..x).map(move |i| (i, j)))
        .map(|(i, j)| at(i, j, mz));
    let coronal = (0..z)
        .rev()
        .flat_map(|k| (0..x).map(move |i| (i, k)))
        .map(|(i, k)| at(i, my, k));
    let sagittal = (0..z)
        .rev()
        .flat_map(|k| (0..y).map(move |j| (j, k)))
        .map(|(j, k)| at(mx, j, k));
    vec![
        (format!("axial z={mz}"), x, y, axial.collect()),
        (format!("coronal y={my}"), x, z, coronal.collect()),
        (format!("sagittal x={mx}"), y, z, sagittal.collect()),
    ]
}

fn add_signal(st: &mut ModalityStats, bytes: &[u8], meta: &serde_json::Value, subject: &str) {
    let Ok(view) = npy::decode(bytes) else { return };
    let Some(v) = values_f32(&view) else { return };
    let (ch, len) = match view.shape.as_slice() {
        [c, n] => (*c, *n),
        _ => return,
    };
    let rate = meta["sampling_rate"].as_f64().unwrap_or(0.0);
    let line = meta["power_line_hz"].as_f64().unwrap_or(50.0);
    let names: Vec<String> = (0..ch)
        .map(|c| {
            meta["channels"][c]["name"]
                .as_str()
                .map_or_else(|| format!("ch{c}"), str::to_string)
        })
        .collect();
    st.values_label = "sample value (signal units, µV for EEG)".into();
    let mut rows = Vec::new();
    for c in 0..ch {
        let row = v.get(c * len..(c + 1) * len).unwrap_or_default();
        let step = (row.len() * ch / VALUES_PER_SAMPLE).max(1);
        st.values
            .extend(row.iter().step_by(step).map(|&x| f64::from(x)));
        let (rms, share) = rms_and_line_share(row, rate, line);
        st.rms.push(rms);
        if let Some(s) = share {
            st.line_noise.push(100.0 * s);
        }
        if c < 10 {
            let secs = ((5.0 * rate) as usize).min(row.len());
            rows.push(row[..secs].to_vec());
        }
    }
    if st.traces.is_none() && rate > 0.0 {
        let label = format!(
            "subject {subject}, first {:.1} s, {} Hz",
            rows.first().map_or(0, Vec::len) as f64 / rate,
            rate
        );
        st.traces = Some((label, names.into_iter().take(10).collect(), rate, rows));
    }
}

/// RMS of a channel (mean removed) and the share of its variance in a sinusoid at `line` Hz
/// (Goertzel over at most the first 60 s), when the rate resolves that frequency.
fn rms_and_line_share(row: &[f32], rate: f64, line: f64) -> (f64, Option<f64>) {
    let n = row.len().max(1) as f64;
    let mean = row.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = row
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    if rate <= 2.0 * line || var <= 0.0 {
        return (var.sqrt(), None);
    }
    let len = row.len().min((60.0 * rate) as usize);
    let w = 2.0 * std::f64::consts::PI * line / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in &row[..len] {
        let s0 = f64::from(x) - mean + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let amp2 = 4.0 * power / (len as f64 * len as f64);
    (var.sqrt(), Some((amp2 / 2.0 / var).min(1.0)))
}

fn add_dna(st: &mut ModalityStats, seq: &[u8], subject: &str) {
    if seq.is_empty() {
        return;
    }
    let len = seq.len() as f64;
    let (mut gc, mut acgt, mut n, mut soft) = (0u64, 0u64, 0u64, 0u64);
    for &b in seq {
        if b.is_ascii_lowercase() {
            soft += 1;
        }
        match b.to_ascii_uppercase() {
            b'G' | b'C' => {
                gc += 1;
                acgt += 1;
            }
            b'A' | b'T' => acgt += 1,
            b'N' => n += 1,
            _ => {}
        }
    }
    if acgt > 0 {
        st.gc.push(gc as f64 / acgt as f64);
    }
    st.n.push(n as f64 / len);
    st.soft.push(soft as f64 / len);
    if st.composition.is_none() {
        let bin = seq.len().div_ceil(32).max(1);
        let bins = seq
            .chunks(bin)
            .map(|c| {
                let mut f = [0.0f64; 5];
                for &b in c {
                    let i = match b.to_ascii_uppercase() {
                        b'A' => 0,
                        b'C' => 1,
                        b'G' => 2,
                        b'T' => 3,
                        _ => 4,
                    };
                    f[i] += 1.0 / c.len() as f64;
                }
                f
            })
            .collect();
        st.composition = Some((
            format!("window of subject {subject}, {} bp", seq.len()),
            bins,
            bin,
        ));
    }
}
