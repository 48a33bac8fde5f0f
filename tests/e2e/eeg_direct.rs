//! `bomdata ingest --profile <eeg profile>` (issue 22): the writer decodes only the channels
//! the profile reads (`EegProfile::input_channels`), and the windows are the samples
//! `bomdata ingest` + `bomdata shard --profile` write from every channel, byte for byte —
//! whole recordings and chunked ones (a partial last chunk), a strict channel subset, a
//! bipolar set, and a set with missing channels (every channel decoded).

use std::path::Path;

use bomdata_testdata::eeg;

use crate::swift_direct::{bomdata, samples};

/// `ingest INGEST` + `shard PROFILE` against `ingest INGEST PROFILE`: the same windows.
fn same_windows(src: &Path, work: &Path, ingest: &[&str], profile: &[&str]) {
    let canon = work.join("canon");
    let train = work.join("train");
    let direct = work.join("direct");
    bomdata("ingest", src, &canon, ingest);
    bomdata("shard", &canon, &train, profile);
    bomdata("ingest", src, &direct, &[ingest, profile].concat());
    let want = samples(&train);
    let got = samples(&direct);
    assert!(!want.is_empty(), "{profile:?}: no windows");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{profile:?}"
    );
    assert!(got == want, "{profile:?}: window members differ");
}

#[test]
fn ingest_profile_eeg_decodes_only_its_channels_and_writes_the_shard_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    eeg::tueg_long_tree(&src, 2, 30);
    let tueg = ["--source", "tueg"];
    let chunked = ["--source", "tueg", "--chunk-seconds", "7"];
    let runs: [(&[&str], &[&str]); 4] = [
        // A strict subset in a new order, on 7 s chunks (30 s: the last one 2 s).
        (
            &chunked,
            &[
                "--profile",
                "generic",
                "--param",
                "channels=O2,CZ,FP1",
                "--param",
                "window_s=1",
                "--param",
                "stride_s=1",
            ],
        ),
        // Bipolar derivations (TCP, 16 pairs of the 10-20 electrodes).
        (&tueg, &["--profile", "biot"]),
        // LaBraM's 23 channels: some are missing, so every channel is decoded.
        (&tueg, &["--profile", "labram"]),
        // CBraMod's 19, its rules shortened to fit a 30 s recording.
        (
            &tueg,
            &[
                "--profile",
                "cbramod",
                "--param",
                "min_duration_s=20",
                "--param",
                "trim_start_s=2",
                "--param",
                "trim_end_s=2",
                "--param",
                "window_s=5",
                "--param",
                "stride_s=5",
                "--param",
                "reject_abs_uv=100000",
            ],
        ),
    ];
    for (i, (ingest, profile)) in runs.iter().enumerate() {
        let work = tmp.path().join(format!("run{i}"));
        same_windows(&src, &work, ingest, profile);
    }
}
