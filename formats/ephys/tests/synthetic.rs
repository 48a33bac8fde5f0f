//! Readers against files whose content is known exactly: BrainVision files written here in every
//! binary format and orientation, and the synthetic EEGLAB files of `tests/data/eeglab`
//! (written by scipy, see its SOURCES.md).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

#[cfg(feature = "hdf5")]
use bomdata_ephys::nwb::hdf5;
use bomdata_ephys::{SignalReader, brainvision, eeglab};
use bomdata_format_core::ProbeOptions;
#[cfg(feature = "hdf5")]
use hdf5::types::FixedAscii;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bomdata-ephys-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_all(r: &mut dyn SignalReader, chunk: usize, nch: usize) -> Vec<Vec<f64>> {
    let mut all = vec![Vec::new(); nch];
    let mut buf = Vec::new();
    while r.read_chunk(chunk, &mut buf).unwrap() > 0 {
        for (a, b) in all.iter_mut().zip(&buf) {
            a.extend_from_slice(b);
        }
    }
    all
}

/// Stored values per channel (3 channels × 7 samples).
fn stored(c: usize, s: usize) -> i32 {
    (c as i32 + 1) * 100 - (s as i32) * 37
}

#[allow(clippy::too_many_arguments)]
fn write_bv(
    dir: &Path,
    name: &str,
    fmt: &str,
    orient: &str,
    big: bool,
    codepage_ansi: bool,
) -> PathBuf {
    let (nch, ns) = (3usize, 7usize);
    let mut data = Vec::new();
    let mut push = |v: i32| match fmt {
        "INT_16" => data.extend_from_slice(&if big {
            (v as i16).to_be_bytes()
        } else {
            (v as i16).to_le_bytes()
        }),
        "INT_32" => data.extend_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }),
        _ => data.extend_from_slice(&if big {
            (v as f32).to_be_bytes()
        } else {
            (v as f32).to_le_bytes()
        }),
    };
    if orient == "MULTIPLEXED" {
        for s in 0..ns {
            for c in 0..nch {
                push(stored(c, s));
            }
        }
    } else {
        for c in 0..nch {
            for s in 0..ns {
                push(stored(c, s));
            }
        }
    }
    std::fs::write(dir.join(format!("{name}.eeg")), &data).unwrap();
    let mut vhdr: Vec<u8> = format!(
        "Brain Vision Data Exchange Header File Version 1.0\r\n; comment\r\n\r\n[Common Infos]\r\n\
         Codepage={}\r\nDataFile={name}.eeg\r\nMarkerFile={name}.vmrk\r\nDataFormat=BINARY\r\n\
         DataOrientation={orient}\r\nNumberOfChannels=3\r\nSamplingInterval=4000\r\n\r\n\
         [Binary Infos]\r\nBinaryFormat={fmt}\r\nUseBigEndianOrder={}\r\n\r\n[Channel Infos]\r\n\
         Ch1=Fp1\\1x,,0.5,nV\r\nCh2=Cz,,2,mV\r\n",
        if codepage_ansi { "ANSI" } else { "UTF-8" },
        if big { "YES" } else { "NO" }
    )
    .into_bytes();
    // Ch3 in µV, written as Latin-1 (0xB5) for the ANSI code page, UTF-8 otherwise.
    vhdr.extend_from_slice(b"Ch3=EOG,,0.1,");
    if codepage_ansi {
        vhdr.push(0xB5);
    } else {
        vhdr.extend_from_slice("µ".as_bytes());
    }
    vhdr.extend_from_slice(b"V\r\n");
    std::fs::write(dir.join(format!("{name}.vhdr")), &vhdr).unwrap();
    let vmrk = "Brain Vision Data Exchange Marker File, Version 1.0\r\n\r\n[Common Infos]\r\n\
                DataFile=x.eeg\r\n\r\n[Marker Infos]\r\n\
                Mk1=New Segment,,1,1,0,20210304050607123456\r\n\
                Mk2=Stimulus,S\\1 1,5,1,0\r\nMk3=Comment,late,3,2,0\r\n";
    std::fs::write(dir.join(format!("{name}.vmrk")), vmrk).unwrap();
    dir.join(format!("{name}.vhdr"))
}

#[test]
fn brainvision_formats_orientations_units() {
    let dir = temp_dir("bv");
    let res = [0.5, 2.0, 0.1];
    for fmt in ["INT_16", "INT_32", "IEEE_FLOAT_32"] {
        for orient in ["MULTIPLEXED", "VECTORIZED"] {
            for big in [false, true] {
                let ansi = big;
                let name = format!("{fmt}_{orient}_{big}");
                let path = write_bv(&dir, &name, fmt, orient, big, ansi);
                assert_eq!(bomdata_ephys::detect(&path), Some("brainvision"));
                let (rec, mut r) = brainvision::open(&path).unwrap();
                assert_eq!(rec.channels.len(), 3);
                assert_eq!(rec.channels[0].name, "Fp1,x");
                let units: Vec<&str> = rec.channels.iter().map(|c| c.unit.as_str()).collect();
                assert_eq!(units, ["nV", "mV", "uV"], "{name}");
                assert_eq!(rec.channels[0].sampling_rate, 250.0);
                assert_eq!(rec.channels[0].n_samples, 7);
                assert_eq!(
                    rec.start.unwrap().to_iso_local(),
                    "2021-03-04T05:06:07.123456"
                );
                assert_eq!(rec.annotations.len(), 2);
                assert_eq!(rec.annotations[0].text, "Comment/late");
                assert_eq!(rec.annotations[0].onset, 2.0 / 250.0);
                assert_eq!(rec.annotations[0].duration, Some(2.0 / 250.0));
                assert_eq!(rec.annotations[1].text, "Stimulus/S, 1");
                assert_eq!(rec.annotations[1].onset, 4.0 / 250.0);
                // Chunks of 3 samples cross the 7-sample signal unevenly.
                let all = read_all(&mut r, 3, 3);
                for (c, vals) in all.iter().enumerate() {
                    assert_eq!(vals.len(), 7);
                    for (s, v) in vals.iter().enumerate() {
                        assert_eq!(*v, stored(c, s) as f64 * res[c], "{name} ch{c} s{s}");
                    }
                }
            }
        }
    }
    let p = bomdata_ephys::probe(
        &dir.join("INT_16_VECTORIZED_false.vhdr"),
        &ProbeOptions::default(),
    )
    .unwrap();
    assert_eq!(p["start"], "2021-03-04T05:06:07.123456");
    assert_eq!(p["duration_s"], 7.0 / 250.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn eeglab_data() -> PathBuf {
    bomdata_testdata::repo_data().join("eeglab")
}

#[test]
fn eeglab_epoched_inline_compressed_and_fdt() {
    let dir = eeglab_data();
    let exp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("synthetic.expected.json")).unwrap(),
    )
    .unwrap();
    for file in ["epoched_compressed.set", "epoched_fdt.set"] {
        let path = dir.join(file);
        assert_eq!(bomdata_ephys::detect(&path), Some("eeglab"));
        let (rec, mut r) = eeglab::open(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(rec.epochs, Some(exp["epochs"].as_u64().unwrap()), "{file}");
        assert_eq!(rec.channels.len(), 3);
        for (i, c) in rec.channels.iter().enumerate() {
            assert_eq!(c.name, exp["labels"][i].as_str().unwrap());
            assert_eq!(c.kind.as_deref(), exp["types"][i].as_str());
            assert_eq!(c.unit, "uV");
            assert_eq!(c.sampling_rate, 250.0);
            assert_eq!(c.n_samples, 20);
            let p = c.position.unwrap();
            for k in 0..3 {
                assert_eq!(p[k], exp["positions"][i][k].as_f64().unwrap());
            }
        }
        let all = read_all(&mut r, 6, 3);
        for (c, vals) in all.iter().enumerate() {
            let want: Vec<f64> = exp["values_uV"][c]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(vals, &want, "{file} channel {c}");
        }
        let want = exp["annotations"].as_array().unwrap();
        assert_eq!(rec.annotations.len(), want.len());
        for (a, w) in rec.annotations.iter().zip(want) {
            assert_eq!(a.text, w["text"].as_str().unwrap(), "{file}");
            assert!((a.onset - w["onset"].as_f64().unwrap()).abs() < 1e-12);
            assert_eq!(a.duration, w["duration"].as_f64());
        }
        let p = bomdata_ephys::probe(&path, &ProbeOptions::default()).unwrap();
        assert_eq!(p["epochs"], 4);
        assert_eq!(p["channels"][0]["stats"]["n"], 20);
    }
}

/// A `.set` in MATLAB v7.3 layout (512-byte user block, `MATLAB_class` attributes, reversed
/// dimensions, struct arrays as groups of object references), written with the HDF5 library
/// the way MATLAB lays it out, with the same content as the synthetic v5 files.
#[cfg(feature = "hdf5")]
#[test]
fn eeglab_v73_layout() {
    let exp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(eeglab_data().join("synthetic.expected.json")).unwrap(),
    )
    .unwrap();
    let dir = temp_dir("v73");
    let path = dir.join("v73.set");
    write_v73_set(&path, &exp);
    assert_eq!(bomdata_ephys::detect(&path), Some("eeglab"));
    let (rec, mut r) = eeglab::open(&path).unwrap();
    assert_eq!(rec.epochs, Some(4));
    for (i, c) in rec.channels.iter().enumerate() {
        assert_eq!(c.name, exp["labels"][i].as_str().unwrap());
        assert_eq!(c.kind.as_deref(), exp["types"][i].as_str());
        assert_eq!(c.n_samples, 20);
        assert_eq!(
            c.position.unwrap()[2],
            exp["positions"][i][2].as_f64().unwrap()
        );
    }
    let all = read_all(&mut r, 7, 3);
    for (c, vals) in all.iter().enumerate() {
        let want: Vec<f64> = exp["values_uV"][c]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(vals, &want, "channel {c}");
    }
    let want = exp["annotations"].as_array().unwrap();
    assert_eq!(rec.annotations.len(), 3);
    for (a, w) in rec.annotations.iter().zip(want) {
        assert_eq!(a.text, w["text"].as_str().unwrap());
        assert_eq!(a.duration, w["duration"].as_f64());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sets `MATLAB_class`; MATLAB writes the class as a fixed-length string of exactly its length.
#[cfg(feature = "hdf5")]
fn class(loc: &hdf5::Location, c: &str) {
    match c.len() {
        4 => {
            let v = FixedAscii::<4>::from_ascii(c).unwrap();
            loc.new_attr::<FixedAscii<4>>()
                .shape(())
                .create("MATLAB_class")
                .unwrap()
                .write_scalar(&v)
                .unwrap();
        }
        _ => {
            let v = FixedAscii::<6>::from_ascii(c).unwrap();
            loc.new_attr::<FixedAscii<6>>()
                .shape(())
                .create("MATLAB_class")
                .unwrap()
                .write_scalar(&v)
                .unwrap();
        }
    }
}

/// Writes `nbchan`, `pnts`, `trials`, `srate` and `data` (trial × pnt × chan, single) into `g`.
#[cfg(feature = "hdf5")]
fn write_v73_dims_and_data(
    g: &hdf5::Group,
    exp: &serde_json::Value,
    nch: usize,
    pnts: usize,
    trials: usize,
) {
    for (n, v) in [
        ("nbchan", nch as f64),
        ("pnts", pnts as f64),
        ("trials", trials as f64),
        ("srate", 250.0),
    ] {
        let d = g.new_dataset::<f64>().shape((1, 1)).create(n).unwrap();
        d.write_raw(&[v]).unwrap();
        class(&d, "double");
    }
    // data[trial][pnt][chan] = values_uV[chan][trial * pnts + pnt]
    let mut data = Vec::new();
    for t in 0..trials {
        for p in 0..pnts {
            for c in 0..nch {
                data.push(exp["values_uV"][c][t * pnts + p].as_f64().unwrap() as f32);
            }
        }
    }
    let d = g
        .new_dataset::<f32>()
        .shape((trials, pnts, nch))
        .create("data")
        .unwrap();
    d.write_raw(&data).unwrap();
    class(&d, "single");
}

/// Writes the v7.3 `.set` used by `eeglab_v73_layout` at `path`: 3 channels, 5 points,
/// 4 trials, chanlocs and events as object references into `#refs#`.
#[cfg(feature = "hdf5")]
fn write_v73_set(path: &Path, exp: &serde_json::Value) {
    let (nch, pnts, trials) = (3usize, 5usize, 4usize);
    let f = hdf5::File::with_options()
        .with_fcpl(|p| p.userblock(512))
        .create(path)
        .unwrap();
    let g = f.create_group("EEG").unwrap();
    class(&g, "struct");
    write_v73_dims_and_data(&g, exp, nch, pnts, trials);
    let refs = f.create_group("#refs#").unwrap();
    let mut k = 0;
    let mut put_text = |s: &str| -> hdf5::ObjectReference1 {
        k += 1;
        let name = format!("t{k}");
        let u: Vec<u16> = s.encode_utf16().collect();
        let d = refs
            .new_dataset::<u16>()
            .shape((u.len(), 1))
            .create(name.as_str())
            .unwrap();
        d.write_raw(&u).unwrap();
        class(&d, "char");
        refs.reference(&name).unwrap()
    };
    let mut texts = |vals: Vec<String>| vals.iter().map(|s| put_text(s)).collect::<Vec<_>>();
    let labels = texts(
        (0..nch)
            .map(|i| exp["labels"][i].as_str().unwrap().to_string())
            .collect(),
    );
    let types = texts(vec!["EEG".into(), "EEG".into(), "EOG".into()]);
    let ev_types = texts(vec!["stim".into()]);
    let mut n = 0;
    let mut put_num = |v: f64| -> hdf5::ObjectReference1 {
        n += 1;
        let name = format!("n{n}");
        let d = refs
            .new_dataset::<f64>()
            .shape((1, 1))
            .create(name.as_str())
            .unwrap();
        d.write_raw(&[v]).unwrap();
        class(&d, "double");
        refs.reference(&name).unwrap()
    };
    let coord = |k: usize| {
        (0..nch)
            .map(|i| exp["positions"][i][k].as_f64().unwrap())
            .collect::<Vec<_>>()
    };
    let xs: Vec<_> = coord(0).into_iter().map(&mut put_num).collect();
    let ys: Vec<_> = coord(1).into_iter().map(&mut put_num).collect();
    let zs: Vec<_> = coord(2).into_iter().map(&mut put_num).collect();
    let ev_ty2 = put_num(7.0);
    let lat: Vec<_> = [3.0, 8.5, 16.0].into_iter().map(&mut put_num).collect();
    let dur: Vec<_> = [0.0, 2.0, f64::NAN].into_iter().map(&mut put_num).collect();
    let ev_ty3 = texts(vec!["resp".into()]);
    let ch = g.create_group("chanlocs").unwrap();
    class(&ch, "struct");
    for (name, r) in [
        ("labels", &labels),
        ("type", &types),
        ("X", &xs),
        ("Y", &ys),
        ("Z", &zs),
    ] {
        ch.new_dataset::<hdf5::ObjectReference1>()
            .shape((r.len(), 1))
            .create(name)
            .unwrap()
            .write_raw(r)
            .unwrap();
    }
    let ev = g.create_group("event").unwrap();
    class(&ev, "struct");
    let ty = vec![ev_types[0], ev_ty2, ev_ty3[0]];
    for (name, r) in [("type", &ty), ("latency", &lat), ("duration", &dur)] {
        ev.new_dataset::<hdf5::ObjectReference1>()
            .shape((r.len(), 1))
            .create(name)
            .unwrap()
            .write_raw(r)
            .unwrap();
    }
}

/// A raw FIF file built tag by tag: extended channel info with a long name, int16 and float32
/// buffers, a skip, first_samp and meas_date.
#[test]
fn fif_buffers_skips_long_names() {
    let tag = |kind: i32, ty: i32, data: &[u8]| {
        let mut t = Vec::new();
        for v in [kind, ty, data.len() as i32, 0] {
            t.extend_from_slice(&v.to_be_bytes());
        }
        t.extend_from_slice(data);
        t
    };
    let ch = |kind: i32, range: f32, cal: f32, unit: i32, name: &str| {
        let mut b = vec![0u8; 96];
        b[8..12].copy_from_slice(&kind.to_be_bytes());
        b[12..16].copy_from_slice(&range.to_be_bytes());
        b[16..20].copy_from_slice(&cal.to_be_bytes());
        b[24..28].copy_from_slice(&0.5f32.to_be_bytes());
        b[72..76].copy_from_slice(&unit.to_be_bytes());
        b[80..80 + name.len()].copy_from_slice(name.as_bytes());
        b
    };
    let mut f = tag(100, 31, &[0; 20]);
    f.extend(tag(104, 3, &100i32.to_be_bytes()));
    f.extend(tag(104, 3, &101i32.to_be_bytes()));
    f.extend(tag(200, 3, &2i32.to_be_bytes()));
    f.extend(tag(201, 4, &200f32.to_be_bytes()));
    f.extend(tag(
        204,
        3,
        &[1_600_000_000i32.to_be_bytes(), 250_000i32.to_be_bytes()].concat(),
    ));
    f.extend(tag(203, 30, &ch(2, 2.0, 1e-6, 107, "EEG short")));
    f.extend(tag(203, 30, &ch(3, 1.0, 1.0, 0, "STI 014")));
    for name in ["EEG a very long channel name", ""] {
        f.extend(tag(104, 3, &113i32.to_be_bytes()));
        if !name.is_empty() {
            f.extend(tag(258, 10, name.as_bytes()));
        }
        f.extend(tag(105, 3, &113i32.to_be_bytes()));
    }
    f.extend(tag(105, 3, &101i32.to_be_bytes()));
    f.extend(tag(104, 3, &102i32.to_be_bytes()));
    f.extend(tag(208, 3, &20i32.to_be_bytes()));
    // 3 samples of int16: (ch0, ch1) per sample
    let b16: Vec<u8> = [1i16, 5, -2, 6, 3, 7]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    f.extend(tag(300, 2, &b16));
    f.extend(tag(301, 3, &1i32.to_be_bytes()));
    let b32: Vec<u8> = [10f32, 8.0, 20.0, 9.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    f.extend(tag(300, 4, &b32));
    f.extend(tag(105, 3, &102i32.to_be_bytes()));
    f.extend(tag(105, 3, &100i32.to_be_bytes()));
    let dir = temp_dir("fif");
    let p = dir.join("x_raw.fif");
    std::fs::write(&p, &f).unwrap();
    assert_eq!(bomdata_ephys::detect(&p), Some("fif"));
    let (rec, mut r) = bomdata_ephys::fif::open(&p).unwrap();
    assert_eq!(rec.channels[0].name, "EEG a very long channel name");
    assert_eq!(rec.channels[1].name, "STI 014");
    assert_eq!(rec.channels[0].unit, "V");
    assert_eq!(rec.channels[0].factor_to_uv(), Some(1e6));
    assert_eq!(rec.channels[1].unit, "");
    assert_eq!(rec.channels[1].factor_to_uv(), None);
    assert_eq!(rec.channels[0].kind.as_deref(), Some("eeg"));
    assert_eq!(rec.channels[1].kind.as_deref(), Some("stim"));
    assert_eq!(rec.channels[0].position.unwrap()[0], 0.5);
    // 3 + skip of 1 buffer of the next buffer's 2 samples + 2
    assert_eq!(rec.channels[0].n_samples, 7);
    // 2020-09-13T12:26:40.25 UTC + 20 / 200 s
    assert_eq!(
        rec.start.unwrap().to_iso_local(),
        "2020-09-13T12:26:40.350000"
    );
    assert_eq!(rec.annotations.len(), 1);
    assert_eq!(rec.annotations[0].text, "BAD_ACQ_SKIP");
    assert_eq!(rec.annotations[0].onset, 3.0 / 200.0);
    assert_eq!(rec.annotations[0].duration, Some(2.0 / 200.0));
    let all = read_all(&mut r, 2, 2);
    let cal0 = 2.0 * (1e-6f32 as f64);
    let want0: Vec<f64> = [1.0, -2.0, 3.0, 0.0, 0.0, 10.0, 20.0]
        .iter()
        .map(|v| v * cal0)
        .collect();
    assert_eq!(all[0], want0);
    assert_eq!(all[1], vec![5.0, 6.0, 7.0, 0.0, 0.0, 8.0, 9.0]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A minimal raw FIF file: one EEG channel (cal 1, range 1), float32 buffers, and optionally a
/// reference block naming the next split file by number.
fn fif_split_part(values: &[&[f32]], next_num: Option<i32>) -> Vec<u8> {
    let tag = |kind: i32, ty: i32, data: &[u8]| {
        let mut t = Vec::new();
        for v in [kind, ty, data.len() as i32, 0] {
            t.extend_from_slice(&v.to_be_bytes());
        }
        t.extend_from_slice(data);
        t
    };
    let mut ch = vec![0u8; 96];
    ch[8..12].copy_from_slice(&2i32.to_be_bytes());
    ch[12..16].copy_from_slice(&1f32.to_be_bytes());
    ch[16..20].copy_from_slice(&1f32.to_be_bytes());
    ch[72..76].copy_from_slice(&107i32.to_be_bytes());
    ch[80..83].copy_from_slice(b"EEG");
    let mut f = tag(100, 31, &[0; 20]);
    f.extend(tag(104, 3, &100i32.to_be_bytes()));
    f.extend(tag(104, 3, &101i32.to_be_bytes()));
    f.extend(tag(200, 3, &1i32.to_be_bytes()));
    f.extend(tag(201, 4, &100f32.to_be_bytes()));
    f.extend(tag(203, 30, &ch));
    f.extend(tag(105, 3, &101i32.to_be_bytes()));
    f.extend(tag(104, 3, &102i32.to_be_bytes()));
    for v in values {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
        f.extend(tag(300, 4, &b));
    }
    f.extend(tag(105, 3, &102i32.to_be_bytes()));
    if let Some(n) = next_num {
        f.extend(tag(104, 3, &118i32.to_be_bytes()));
        f.extend(tag(115, 3, &2i32.to_be_bytes()));
        f.extend(tag(117, 3, &n.to_be_bytes()));
        f.extend(tag(105, 3, &118i32.to_be_bytes()));
    }
    f.extend(tag(105, 3, &100i32.to_be_bytes()));
    f
}

#[test]
fn fif_split_files_read_as_one() {
    let dir = temp_dir("fifsplit");
    std::fs::write(
        dir.join("run_raw.fif"),
        fif_split_part(&[&[1.0, 2.0], &[3.0]], Some(1)),
    )
    .unwrap();
    std::fs::write(
        dir.join("run_raw-1.fif"),
        fif_split_part(&[&[4.0, 5.0]], Some(2)),
    )
    .unwrap();
    std::fs::write(dir.join("run_raw-2.fif"), fif_split_part(&[&[6.0]], None)).unwrap();
    let (rec, mut r) = bomdata_ephys::fif::open(&dir.join("run_raw.fif")).unwrap();
    assert_eq!(rec.channels[0].n_samples, 6);
    let all = read_all(&mut r, 4, 1);
    assert_eq!(all[0], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // A missing split is an error, not a silently short recording.
    std::fs::remove_file(dir.join("run_raw-2.fif")).unwrap();
    let e = bomdata_ephys::fif::open(&dir.join("run_raw.fif"))
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("run_raw-2.fif"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
