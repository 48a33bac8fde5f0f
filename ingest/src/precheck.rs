//! A whole-input check before any unit writes, for a transform that asks for one
//! ([`crate::transform::SampleTransform::input_check`]): `ingest --tokens` with a tokenizer
//! that refuses lower-case bases checks every block of the input first, as `bomdata shard
//! --tokens` checks its whole input before writing anything, so a soft-masked genome is refused
//! as a whole (with the count of lower-case bases over the input) rather than unit by unit.
//!
//! Every unit is converted into a sink that shows each sample to the check and keeps nothing;
//! units the adapter cannot convert are left to the run itself (they fail there, with their
//! reason). Every rank checks the whole input.

use std::path::Path;

use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::Sample;

use crate::Result;
use crate::source::{SampleSink, Source, Unit};
use crate::transform::InputCheck;

/// Shows every sample to the check; keeps nothing.
struct CheckSink<'a> {
    check: &'a mut dyn InputCheck,
    /// The check's first refusal.
    refused: Option<crate::Error>,
}

impl SampleSink for CheckSink<'_> {
    fn write_sample(&mut self, sample: Sample) -> Result<()> {
        if self.refused.is_none()
            && let Err(e) = self.check.sample(&sample)
        {
            self.refused = Some(e);
        }
        Ok(())
    }

    fn subject(&mut self, _row: SubjectRow) -> Result<()> {
        Ok(())
    }

    fn skipped(&mut self, _path: &Path, _reason: &str) {}
}

/// Runs `check` over every unit of `units`; its error (or the first sample it refused) stops
/// the run before anything is written.
pub(crate) fn run(
    opts: &crate::run::RunOptions,
    source: &dyn Source,
    units: &[Unit],
    mut check: Box<dyn InputCheck>,
) -> Result<()> {
    let ctx = crate::run::unit_context(opts, None);
    for u in units {
        let mut sink = CheckSink {
            check: check.as_mut(),
            refused: None,
        };
        // A unit the adapter fails on fails in the run itself, with its reason.
        let _ = source.convert(u, &ctx, &mut sink);
        if let Some(e) = sink.refused {
            return Err(e);
        }
    }
    check.finish()
}
