//! Sinks for unit conversions besides the runtime's own shard-writing sink.

use std::path::{Path, PathBuf};

use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::Sample;

use crate::tables::TablePart;
use crate::{Result, SampleSink};

/// Keeps everything a conversion produces in memory: for tests and for tools that inspect an
/// adapter's output without writing a dataset.
#[derive(Debug, Default)]
pub struct MemSink {
    /// Samples in the order they were written.
    pub samples: Vec<Sample>,
    /// Subject rows.
    pub subjects: Vec<SubjectRow>,
    /// Skipped inputs with their reasons.
    pub skipped: Vec<(PathBuf, String)>,
    /// Table parts in the order they were written.
    pub tables: Vec<TablePart>,
}

impl SampleSink for MemSink {
    fn write_sample(&mut self, sample: Sample) -> Result<()> {
        self.samples.push(sample);
        Ok(())
    }

    fn subject(&mut self, row: SubjectRow) -> Result<()> {
        self.subjects.push(row);
        Ok(())
    }

    fn skipped(&mut self, path: &Path, reason: &str) {
        self.skipped.push((path.to_path_buf(), reason.to_string()));
    }

    fn write_table(&mut self, part: TablePart) -> Result<()> {
        self.tables.push(part);
        Ok(())
    }
}
