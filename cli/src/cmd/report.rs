//! `bomdata report`: a self-contained HTML QC report of one or more datasets (see
//! `crate::report`).

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `bomdata report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Datasets (canonical or training) to report on together.
    #[arg(required = true)]
    pub datasets: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Samples read per modality for the value statistics.
    #[arg(long, default_value_t = 64)]
    pub max_samples: usize,
    /// Subjects whose volumes are previewed, per modality.
    #[arg(long, default_value_t = 3)]
    pub preview_subjects: usize,
}

/// Runs `bomdata report`; one line on stderr names the file written.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    super::check_local_path(&a.out)?;
    let html = crate::report::build(
        &a.datasets,
        &crate::report::Options {
            max_samples: a.max_samples.max(1),
            max_subjects: a.preview_subjects,
            max_subject_rows: 200,
        },
    )?;
    bomdata_shard::dataset::write_atomic(&a.out, html.as_bytes())
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "bomdata: report of {} dataset(s), {:.0} kB -> {}",
        a.datasets.len(),
        html.len() as f64 / 1e3,
        a.out.display()
    );
    Ok(0)
}
