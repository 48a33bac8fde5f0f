//! Streams one epoch of the example cohort (`scripts/example.sh`) through the loader with
//! same-subject pairing: one unit per (subject, session) and window, one slot per modality —
//! the T1w volume (`volume` profile), the BOLD window (`swift`), the EEG window (`cbramod`) and
//! the clinical visit text — with a presence mask for the slots a subject lacks. Prints the
//! first batch's shapes and the epoch's throughput.
//!
//! `cargo run --release -p bomdata-loader --example cohort_epoch -- TRAINING_DIR [BATCH]`
//! where TRAINING_DIR holds the training datasets `volume`, `swift`, `eeg` and `clinical`.
#![allow(clippy::print_stdout, reason = "an example binary prints its result")]

use std::path::PathBuf;
use std::sync::Arc;

use bomdata_loader::{
    Dataset, FieldKind, Loader, LoaderOptions, Mixture, OrderOptions, PairRow, Partition, Planner,
    Remainder, Units,
};
use bomdata_schemas::Modality;

/// Slot, training dataset folder, modality kept from it.
const SLOTS: [(&str, &str, Modality); 4] = [
    ("smri", "volume", Modality::Smri),
    ("fmri", "swift", Modality::Fmri),
    ("eeg", "eeg", Modality::Eeg),
    ("clinical_text", "clinical", Modality::ClinicalText),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(
        args.next()
            .ok_or("usage: cohort_epoch TRAINING_DIR [BATCH]")?,
    );
    let batch_size: usize = args.next().map_or(Ok(4), |s| s.parse())?;
    let mut parts = Vec::new();
    let mut rows = Vec::new();
    for (slot, dir, modality) in SLOTS {
        let mut ds = Dataset::open(root.join(dir))?;
        // The modality is the key's last segments (`..._T1w_smri`, `..._bold_fmri_000003`).
        let tag = format!("_{modality}");
        ds.retain(|s| s.key().ends_with(&tag) || s.key().contains(&format!("{tag}_")));
        // The pairing key: the pseudonymous subject each index entry records.
        for (i, loc) in ds.selection().iter().enumerate() {
            let subject = ds.index_sample(*loc).subject.clone().unwrap_or_default();
            let key = ds.info(i).map(|s| s.key().to_string()).unwrap_or_default();
            rows.push(PairRow {
                key,
                subject,
                session: String::new(),
                modality: slot.to_string(),
            });
        }
        println!("{slot:<14} {:>3} samples from {dir}", ds.len());
        // Weights equal to the sizes: every sample, hence every pairing unit, once an epoch.
        if !ds.is_empty() {
            let n = ds.len() as f64;
            parts.push((ds, n));
        }
    }
    let units = Units::Pairs {
        modalities: SLOTS.iter().map(|s| s.0.to_string()).collect(),
        rows,
    };
    let planner = Planner::new(Mixture::weighted(parts)?, OrderOptions::default(), units)?;
    let mut loader = Loader::new(
        Arc::new(planner),
        Partition::new(0, 1, Remainder::Uneven)?,
        LoaderOptions {
            batch_size,
            threads: 2,
            ..LoaderOptions::default()
        },
    )?;
    let mut present = [0usize; SLOTS.len()];
    let mut first = true;
    for batch in loader.epoch() {
        let batch = batch?;
        for (i, p) in batch.mask().into_iter().enumerate() {
            present[i % SLOTS.len()] += usize::from(p);
        }
        if first {
            first = false;
            println!(
                "first batch: {} units x {} slots",
                batch.rows(),
                batch.width()
            );
            for f in batch.fields() {
                let what = match f.kind() {
                    FieldKind::Tensor { dtype, .. } => format!("{} {:?}", dtype.name(), f.shape()),
                    FieldKind::Bytes => format!("bytes ({} B in all)", f.data().len()),
                };
                println!("  {:<14} {:<10} {what}", SLOTS[f.slot()].0, f.name());
            }
        }
    }
    let s = loader
        .last_stats()
        .ok_or("the epoch yielded no statistics")?;
    let secs = s.wall.as_secs_f64().max(1e-9);
    println!(
        "epoch 0: {} batches, {} units, {} samples ({}), {:.1} MB in {:.3} s: {:.0} units/s, {:.0} MB/s",
        s.batches,
        s.units,
        s.samples,
        SLOTS
            .iter()
            .zip(present)
            .map(|(slot, n)| format!("{} {n}", slot.0))
            .collect::<Vec<_>>()
            .join(", "),
        s.bytes_out as f64 / 1e6,
        secs,
        s.units as f64 / secs,
        s.bytes_out as f64 / 1e6 / secs
    );
    Ok(())
}
