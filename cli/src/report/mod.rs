//! `bomdata report`: one self-contained HTML page about one or more datasets — counts by
//! source, modality, split and subject; failures and skips grouped by reason; value
//! distributions per modality; previews (volume mid-slices, EEG traces, DNA base composition);
//! provenance. Plots are `plotters` SVG, inlined; the page loads nothing from a network.
//!
//! - [`collect`]: samples, counts, report entries, masking of source paths;
//! - [`stats`]: value statistics and previews from a bounded sample of each modality;
//! - [`tables`]: NA rates of table parts;
//! - [`plot`]: the figures;
//! - [`html`]: the page.

pub mod collect;
pub mod html;
pub mod plot;
pub mod stats;
pub mod tables;

use std::path::PathBuf;

/// What the report reads.
#[derive(Clone, Debug)]
pub struct Options {
    /// Samples read per modality for statistics.
    pub max_samples: usize,
    /// Subjects whose volumes are previewed, per modality.
    pub max_subjects: usize,
    /// Rows of the per-subject table.
    pub max_subject_rows: usize,
}

/// The report of `datasets` as one HTML page.
pub fn build(datasets: &[PathBuf], opts: &Options) -> anyhow::Result<String> {
    let views = datasets
        .iter()
        .map(|d| collect::open(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let reasons = collect::reasons(&views);
    let stats = stats::gather(&views, opts.max_samples, opts.max_subjects);
    let tables = tables::na_rates(&views)?;
    html::render(&html::Page {
        views: &views,
        reasons: &reasons,
        stats: &stats,
        tables: &tables,
        opts,
    })
}
