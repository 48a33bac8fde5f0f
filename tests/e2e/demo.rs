//! The multi-modal main job's pieces: `shard` progress and the HTML QC report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bomdata_testdata::{eeg, genome, tables};
use bomdata_tests::{cmd, example_bids, run};
use sha2::Digest as _;

/// Ingests the example BIDS tree into `dir/canonical`.
fn canonical(dir: &Path) -> PathBuf {
    let can = dir.join("canonical");
    let mut c = cmd();
    c.arg("ingest").arg(example_bids()).arg("--out").arg(&can);
    assert!(run(c).status.success());
    can
}

#[test]
fn shard_reports_progress_as_lines_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let can = canonical(dir.path());
    // Not a terminal: plain lines, the last one with every sample done, then the summary.
    let mut c = cmd();
    c.arg("shard")
        .arg(&can)
        .arg("--out")
        .arg(dir.path().join("a"));
    let out = run(c);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bomdata: 0/5 samples, 0.0/"), "{err}");
    assert!(err.contains("bomdata: 5/5 samples, "), "{err}");
    assert!(
        err.contains("bomdata: profile canonical: 5 samples in"),
        "{err}"
    );
    // --json: planned, progress (the last with done == total), summary; nothing else.
    let mut c = cmd();
    c.arg("shard")
        .arg(&can)
        .arg("--out")
        .arg(dir.path().join("b"))
        .arg("--json");
    let out = run(c);
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "planned");
    assert_eq!(events[0]["samples"], 5);
    let last = &events[events.len() - 2];
    assert_eq!(last["event"], "progress");
    assert_eq!(
        (last["done"].as_u64(), last["total"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(last["written"], 5);
    let summary = &events[events.len() - 1];
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["samples"], 5);
}

/// Ingests a synthetic tree made by `make` from `source` into `dir/name`; returns the dataset.
fn ingest_tree(dir: &Path, name: &str, source: &str, make: fn(&Path)) -> PathBuf {
    let src = dir.join("src").join(name);
    std::fs::create_dir_all(&src).unwrap();
    make(&src);
    let out = dir.join(name);
    let mut c = cmd();
    c.arg("ingest")
        .arg(&src)
        .arg("--source")
        .arg(source)
        .arg("--out")
        .arg(&out)
        .arg("--chunk-seconds")
        .arg("4");
    // The EEG tree holds a truncated recording: a failed unit (exit 1) for the report to show.
    let code = run(c).status.code();
    assert!(matches!(code, Some(0 | 1)), "{name}: exit {code:?}");
    out
}

/// The build folder (`CARGO_TARGET_DIR` or the workspace's `target`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| bomdata_testdata::workspace_root().join("target"))
}

/// The headless Chromium of the test, when installed.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].into_iter().find_map(|n| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(n))
                .find(|f| f.is_file())
        })
    })
}

/// Runs headless Chromium on `page` with a fresh profile and no network services.
fn chromium_run(browser: &Path, profile: &Path, extra: &[&str], page: &Path) -> Output {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()));
    c.output().unwrap()
}

#[test]
fn report_is_one_page_that_chromium_renders_without_console_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mri = canonical(dir.path());
    let eeg = ingest_tree(dir.path(), "eeg", "hbn_eeg", eeg::bids_eeg_tree);
    let dna = ingest_tree(dir.path(), "dna", "t2t_chm13", genome::assembly_tree);
    let olink = ingest_tree(dir.path(), "olink", "olink", tables::olink_tree);
    let page = dir.path().join("report.html");
    let mut c = cmd();
    c.arg("report")
        .args([&mri, &eeg, &dna, &olink])
        .arg("--out")
        .arg(&page);
    let out = run(c);
    assert!(out.status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no script, nothing fetched; the CSP makes any fetch a console error.
    for bad in ["<script", "src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!html.contains(bad), "report holds {bad:?}");
    }
    assert!(html.contains("default-src 'none'"));
    // What each modality contributes.
    for want in [
        "smri: values",
        "eeg: channel RMS",
        "eeg: line noise",
        "dna: GC content",
        "dna: soft-masked",
        "table features: NA rate",
        "axial z=",
        "eeg: traces",
        "base composition",
        "failed</td>",
    ] {
        assert!(html.contains(want), "report lacks {want:?}");
    }
    // Pseudonyms only: the original subject labels of the trees never appear.
    for id in ["NDARAA111", "NDARBB222", "NDARCC333", "sub-01"] {
        assert!(!html.contains(id), "report names {id}");
    }
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("BOMDATA_REQUIRE_CHROMIUM").is_none(),
            "chromium is not installed (scripts/test.sh installs Debian chromium)"
        );
        eprintln!("chromium not installed: the browser half of the report test is skipped");
        return;
    };
    let dom = chromium_run(&browser, &dir.path().join("p1"), &["--dump-dom"], &page);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "{log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages while loading the report: {console:?}"
    );
    for (id, title) in bomdata_report_sections() {
        assert!(
            dom_text.contains(&format!("<section id=\"{id}\"><h2>{title}</h2>")),
            "section {id} missing from the rendered page"
        );
    }
    assert!(dom_text.matches("<svg").count() >= 10);
    let shot_dir = target_dir().join("report");
    std::fs::create_dir_all(&shot_dir).unwrap();
    let shot = shot_dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    let r = chromium_run(
        &browser,
        &dir.path().join("p2"),
        &[&arg, "--window-size=1280,4000"],
        &page,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    // Kept for people to look at.
    std::fs::copy(&page, shot_dir.join("report.html")).unwrap();
    eprintln!("screenshot: {}", shot.display());
}

/// The report's sections (`bomdata::report::html::SECTIONS`; the CLI is not a library).
fn bomdata_report_sections() -> [(&'static str, &'static str); 5] {
    [
        ("counts", "Counts"),
        ("failures", "Failures and skips"),
        ("distributions", "Value distributions"),
        ("previews", "Previews"),
        ("provenance", "Provenance"),
    ]
}

#[test]
fn example_cohort_generated_files_match_their_generator() {
    let dir = tempfile::tempdir().unwrap();
    bomdata_testdata::cohort::write(dir.path());
    let cohort = bomdata_testdata::workspace_root().join("examples/cohort");
    for f in bomdata_testdata::cohort::FILES {
        let made = std::fs::read(dir.path().join(f)).unwrap();
        let kept = std::fs::read(cohort.join(f)).unwrap();
        assert!(
            made == kept,
            "examples/cohort/{f} differs from cohort_generate's output"
        );
    }
    // Every file of the cohort is listed in its SOURCES.tsv with its sha256.
    let sources = std::fs::read_to_string(cohort.join("SOURCES.tsv")).unwrap();
    for e in walk(&cohort) {
        let rel = e
            .strip_prefix(&cohort)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == "SOURCES.tsv" {
            continue;
        }
        let row = sources
            .lines()
            .find(|l| l.split('\t').next() == Some(rel.as_str()))
            .unwrap_or_else(|| panic!("examples/cohort/SOURCES.tsv lacks {rel}"));
        let sha = row.split('\t').nth(3).unwrap();
        let digest = sha2::Sha256::digest(std::fs::read(&e).unwrap());
        assert_eq!(sha, hex(&digest), "sha256 of {rel}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn token_shard_reports_progress_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let dna = ingest_tree(dir.path(), "dna", "t2t_chm13", genome::assembly_tree);
    let mut c = cmd();
    c.arg("shard")
        .arg(&dna)
        .arg("--out")
        .arg(dir.path().join("tok"))
        .args(["--tokens", "hyena-char", "--json"]);
    let out = run(c);
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total = events[0]["samples"].as_u64().unwrap();
    assert_eq!(events[0]["event"], "planned");
    let last = &events[events.len() - 2];
    assert_eq!(
        (last["event"].as_str(), last["done"].as_u64()),
        (Some("progress"), Some(total))
    );
    let summary = &events[events.len() - 1];
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["tokenizer"], "hyena-char");
    // one document per window; a canonical DNA sample is a block of windows (genome/2)
    assert!(summary["documents"].as_u64().unwrap() >= total - summary["skipped"].as_u64().unwrap());
}
