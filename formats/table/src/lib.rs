//! Tables for bomdata (see also the crate README): delimited text, Excel, Parquet, Olink NPX, DNA methylation and BIOM, read
//! into Arrow [`RecordBatch`](arrow_array::RecordBatch)es.
//!
//! Supported:
//! - delimited text (`,` `;` tab sniffed; RFC 4180 quotes; gzip/BGZF/zstd undone), Excel `.xlsx`
//!   (first sheet, via calamine), Parquet; NA cells are empty, `NA`, `NaN`, `N/A`, `NULL`, `null`;
//!   a column is numeric when every non-NA cell parses as a number ([`table`]);
//! - Olink NPX long format (Target 96, Explore, Explore 3072 columns) and its pivot to one row per
//!   sample with one column per OlinkID and parallel QC / below-LOD masks ([`olink`]);
//! - methylation beta matrices in either orientation, GEO signal tables to beta / M-values, EPIC
//!   v1/v2 probe names ([`methylation`]), and a parallel matrix CSV → Parquet conversion
//!   ([`matrix`]);
//! - BIOM v1 JSON (sparse and dense) and, with the `hdf5` feature, BIOM v2.1 HDF5 ([`biom`]).
//!
//! Not supported: legacy `.xls`, the Olink wide `.xlsx` export's pivot (it is read as a plain
//! sheet), IDAT files, BIOM v2.0/v2.1 metadata groups (ids and counts only).
//!
//! Every malformed input is an [`std::io::Error`] of kind `InvalidData` holding a [`TableError`]
//! that names the file, the line or column, and the reason. Nothing is coerced silently.
//!
//! ```
//! let t = bomdata_table::table::read_delimited("id;age\ns1;33\n".as_bytes(), "x.csv", None).unwrap();
//! assert_eq!(t.batch.num_rows(), 1);
//! ```

pub mod biom;
pub mod clinical;
pub mod delimited;
mod error;
pub mod matrix;
pub mod methylation;
pub mod names;
pub mod olink;
pub mod probe;
pub mod table;

pub use error::TableError;
pub use table::Table;
/// The Arrow crates of the batches this crate returns, for callers that build batches too.
pub use {arrow_array, arrow_schema};
