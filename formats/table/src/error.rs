//! The typed error behind every `InvalidData` this crate returns.

use std::fmt;
use std::io;

/// What is wrong with a table, and where.
///
/// Wrapped in an [`io::Error`] of kind [`io::ErrorKind::InvalidData`]; get it back with
/// [`TableError::from_io`]. The message is one lowercase line:
/// `<file>: line 7, column "NPX": expected a number, found "abc"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableError {
    /// The file (as given by the caller, usually its path).
    pub file: String,
    /// 1-based row as a person counts it in the source: the text line (the header is line 1),
    /// the spreadsheet row, or the matrix row + 1. `None` when the problem is not row-bound.
    pub row: Option<u64>,
    /// The column name (or HDF5 dataset / JSON field) concerned, when there is one.
    pub column: Option<String>,
    /// What is wrong, in lowercase.
    pub reason: String,
}

impl TableError {
    /// A new error.
    pub fn new(file: impl Into<String>, reason: impl Into<String>) -> Self {
        TableError {
            file: file.into(),
            row: None,
            column: None,
            reason: reason.into(),
        }
    }

    /// Sets the row.
    pub fn at_row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    /// Sets the column.
    pub fn at_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Wraps this error in an `InvalidData` [`io::Error`].
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The table error inside an [`io::Error`], when it holds one.
    pub fn from_io(e: &io::Error) -> Option<&TableError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<TableError>())
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        match (&self.row, &self.column) {
            (Some(r), Some(c)) => write!(f, "line {r}, column {c:?}: ")?,
            (Some(r), None) => write!(f, "line {r}: ")?,
            (None, Some(c)) => write!(f, "column {c:?}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for TableError {}

impl From<TableError> for io::Error {
    fn from(e: TableError) -> io::Error {
        e.into_io()
    }
}
