//! Seeded mutation test (issue 15): truncations, bit flips and header overwrites of every
//! fixture format in `tests/fixtures`, through `bomdata probe`, and of a few source trees
//! through `bomdata ingest`. Every run must end with exit code 0, 1 or 2 (no panic, no abort, no
//! signal, no hang) and a refusal must be one clean line naming the file.
//!
//! `BOMDATA_MUTATIONS` (default 6 per fixture file, sized for about two minutes on two cores in
//! the CI) and `BOMDATA_MUTATION_SEED` (default 15) choose the run; the counts are printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bomdata_tests::{bin, copy_dir, example_bids};

/// xorshift64*: the same mutations for the same seed on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A position in `len` bytes, half the time within the first 1 KiB (where headers are).
fn position(rng: &mut Rng, len: usize) -> usize {
    if rng.below(2) == 0 {
        rng.below(len.min(1024))
    } else {
        rng.below(len)
    }
}

/// Applies mutation `kind` (0 truncate, 1 flips, 2 header overwrite) to `b`; returns its name.
fn mutate(b: &mut Vec<u8>, kind: usize, rng: &mut Rng) -> String {
    if b.is_empty() {
        b.push(0xff);
        return "grow empty".into();
    }
    match kind {
        0 => {
            let at = position(rng, b.len());
            b.truncate(at);
            format!("truncate at {at}")
        }
        1 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let at = position(rng, b.len());
                b[at] ^= 1 << rng.below(8);
            }
            format!("{n} bit flips")
        }
        _ => {
            let at = rng.below(b.len().min(512));
            let patterns: [&[u8]; 4] = [b"99999999", b"\xff\xff\xff\x7f", b"\0\0\0\0", b"-1e308"];
            let n = 1 + rng.below(16);
            for i in 0..n {
                if at + i >= b.len() {
                    break;
                }
                b[at + i] = match rng.below(3) {
                    0 => rng.next() as u8,
                    k => patterns[k + rng.below(2)][i % 4],
                };
            }
            format!("overwrite {n} bytes at {at}")
        }
    }
}

/// The file `probe` is given when `f` is mutated: a companion file (`.eeg`, `.vmrk`, `.fdt`,
/// `.bai`, `.fai`, `.gzi`) is read through its header file.
fn probe_target(f: &Path) -> PathBuf {
    let name = f.file_name().unwrap().to_string_lossy().to_string();
    let with = |ext: &str| f.with_extension(ext);
    match f.extension().and_then(|e| e.to_str()) {
        Some("eeg" | "vmrk") => with("vhdr"),
        Some("fdt") => with("set"),
        Some("bai" | "fai" | "gzi") => f.with_file_name(&name[..name.len() - 4]),
        _ => f.to_path_buf(),
    }
}

/// Every fixture file of a format (not the expected values, notes, scripts or BIDS sidecars).
fn fixture_files() -> Vec<PathBuf> {
    let root = bomdata_testdata::require_fixtures();
    let mut out = Vec::new();
    for d in std::fs::read_dir(&root).unwrap().flatten() {
        let p = d.path();
        if !p.is_dir() || p.ends_with("bids") {
            continue;
        }
        for f in std::fs::read_dir(&p).unwrap().flatten() {
            let n = f.file_name().to_string_lossy().to_string();
            if !n.ends_with(".json") && !n.ends_with(".md") && !n.ends_with(".py") {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

/// `bomdata ARGS` under a 4 GB address-space limit and a 120 s wall-clock limit.
fn limited(args: &[&std::ffi::OsStr]) -> Output {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg("ulimit -v 4000000; exec timeout -s KILL 120 \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .env("BOMDATA_KEY", "test-key-0123456789abcdef");
    c.output().unwrap()
}

#[derive(Default)]
struct Counts {
    files: usize,
    mutations: usize,
    reads: usize,
    refusals: usize,
    problems: Vec<String>,
}

/// Checks one finished run: exit 0/1/2, no panic text, a refusal as one line naming `name`.
fn judge(o: &Output, what: &str, name: &str, one_line: bool, c: &Mutex<Counts>) {
    let err = String::from_utf8_lossy(&o.stderr);
    let mut c = c.lock().unwrap();
    c.mutations += 1;
    let problem = match o.status.code() {
        None => Some(format!("killed by a signal ({:?})", o.status)),
        Some(137) => Some("hung (killed after 120 s) or killed".into()),
        Some(code) if code > 2 => Some(format!("exit {code}")),
        _ if err.contains("panicked") || err.contains("(panic)") => Some("panic".into()),
        Some(0) => None,
        Some(_) if one_line && (err.lines().count() != 1 || !err.contains(name)) => {
            Some("refusal is not one line naming the file".into())
        }
        Some(_) => None,
    };
    match (problem, o.status.code()) {
        (Some(p), _) => c.problems.push(format!("{what}: {p}\n{err}")),
        (None, Some(0)) => c.reads += 1,
        (None, _) => c.refusals += 1,
    }
}

fn probe_mutations(per_file: usize, seed: u64, counts: &Mutex<Counts>) {
    let files = fixture_files();
    counts.lock().unwrap().files += files.len();
    let jobs: Vec<(PathBuf, usize)> = files
        .iter()
        .flat_map(|f| (0..per_file).map(move |k| (f.clone(), k)))
        .collect();
    let next = AtomicUsize::new(0);
    let tmp = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for w in 0..2 {
            let (jobs, next, counts, tmp) = (&jobs, &next, counts, tmp.path());
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((f, k)) = jobs.get(i) else { break };
                    let dir = tmp.join(format!("w{w}"));
                    let _ = std::fs::remove_dir_all(&dir);
                    std::fs::create_dir_all(&dir).unwrap();
                    // The file and its companions (same name up to the first dot).
                    let name = f.file_name().unwrap().to_string_lossy().to_string();
                    let stem = name.split('.').next().unwrap().to_string();
                    for e in std::fs::read_dir(f.parent().unwrap()).unwrap().flatten() {
                        let n = e.file_name().to_string_lossy().to_string();
                        if n.split('.').next() == Some(&stem) && e.path().is_file() {
                            std::fs::copy(e.path(), dir.join(&n)).unwrap();
                        }
                    }
                    let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x1000_0001));
                    let target = dir.join(&name);
                    let mut b = std::fs::read(&target).unwrap();
                    let how = mutate(&mut b, (k + rng.below(3)) % 3, &mut rng);
                    std::fs::write(&target, &b).unwrap();
                    let probe = probe_target(&target);
                    let o = limited(&["probe".as_ref(), probe.as_os_str()]);
                    let pname = probe.file_name().unwrap().to_string_lossy().to_string();
                    judge(&o, &format!("probe {name} ({how})"), &pname, true, counts);
                }
            });
        }
    });
}

/// Source trees for `ingest`, and the files in them worth damaging.
fn ingest_trees(root: &Path) -> Vec<(PathBuf, Vec<PathBuf>)> {
    let bids = root.join("bids");
    copy_dir(&example_bids(), &bids);
    let tueg = root.join("tueg");
    bomdata_testdata::eeg::tueg_recordings(&tueg);
    let fixtures = bomdata_testdata::require_fixtures();
    let bv = root.join("bv");
    copy_dir(&fixtures.join("bids/emg_ConcurrentIndependentUnits"), &bv);
    let mut out = Vec::new();
    for t in [bids, tueg, bv] {
        let mut files = Vec::new();
        walk(&t, &mut files);
        files.retain(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".nii") || n.ends_with(".nii.gz") || n.ends_with(".edf")
        });
        files.sort();
        out.push((t, files));
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn ingest_mutations(n: usize, seed: u64, counts: &Mutex<Counts>) {
    let tmp = tempfile::tempdir().unwrap();
    let trees = ingest_trees(&tmp.path().join("trees"));
    let mut rng = Rng::new(seed ^ 0xfeed);
    for (t, files) in &trees {
        counts.lock().unwrap().files += files.len();
        for k in 0..n {
            let work = tmp.path().join("work");
            let _ = std::fs::remove_dir_all(&work);
            let src = work.join("src");
            copy_dir(t, &src);
            let f = &files[rng.below(files.len())];
            let target = src.join(f.strip_prefix(t).unwrap());
            let mut b = std::fs::read(&target).unwrap();
            let how = mutate(&mut b, k % 3, &mut rng);
            std::fs::write(&target, &b).unwrap();
            let out = work.join("out");
            let o = limited(&[
                "ingest".as_ref(),
                src.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
                "--jobs".as_ref(),
                "2".as_ref(),
            ]);
            let what = format!("ingest {} ({how})", target.display());
            let report = std::fs::read_to_string(out.join("report.jsonl")).unwrap_or_default();
            if report.contains("(panic)") {
                counts
                    .lock()
                    .unwrap()
                    .problems
                    .push(format!("{what}: a unit panicked\n{report}"));
            }
            judge(&o, &what, "", false, counts);
        }
    }
}

#[test]
fn mutated_fixtures_are_read_or_refused_cleanly() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let per_file = env("BOMDATA_MUTATIONS", 6) as usize;
    let seed = env("BOMDATA_MUTATION_SEED", 15);
    let counts = Mutex::new(Counts::default());
    let t = std::time::Instant::now();
    probe_mutations(per_file, seed, &counts);
    ingest_mutations(3 * per_file, seed, &counts);
    let c = counts.into_inner().unwrap();
    eprintln!(
        "mutation: seed {seed}: {} files, {} mutations, {} reads, {} refusals, {} problems in {:.0} s",
        c.files,
        c.mutations,
        c.reads,
        c.refusals,
        c.problems.len(),
        t.elapsed().as_secs_f64()
    );
    assert!(
        c.problems.is_empty(),
        "{} problems:\n{}",
        c.problems.len(),
        c.problems.join("\n")
    );
}
