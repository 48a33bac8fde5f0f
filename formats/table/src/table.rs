//! Whole tables: text cells to typed Arrow columns, and the readers by file kind.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::TableError;
use crate::delimited::{self, Record};

/// Cell texts that mean "missing" (PROBE.md): empty, `NA`, `NaN`, `N/A`, `NULL`, `null`.
pub const NA_TOKENS: [&str; 6] = ["", "NA", "NaN", "N/A", "NULL", "null"];

/// Whether a cell is missing by the NA rule.
pub fn is_na(cell: &str) -> bool {
    NA_TOKENS.contains(&cell.trim_matches(|c: char| c == ' ' || c == '\t'))
}

/// Parses a number cell (surrounding spaces allowed), as the numeric-column rule does.
pub fn parse_f64(cell: &str) -> Option<f64> {
    let t = cell.trim_matches(|c: char| c == ' ' || c == '\t');
    if let Ok(v) = lexical_core::parse::<f64>(t.as_bytes()) {
        return Some(v);
    }
    match t {
        "inf" | "Inf" | "+inf" | "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-inf" | "-Inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn parse_i64(cell: &str) -> Option<i64> {
    let t = cell.trim_matches(|c: char| c == ' ' || c == '\t');
    lexical_core::parse::<i64>(t.as_bytes()).ok()
}

/// A table read into memory: one Arrow [`RecordBatch`] plus how it was read.
#[derive(Clone, Debug)]
pub struct Table {
    /// The data. Column types: `Int64` when every non-NA cell is an integer, `Float64` when every
    /// non-NA cell is a number (a column with no value at all is `Float64`, all null), else `Utf8`.
    /// NA cells are null.
    pub batch: RecordBatch,
    /// The header cells as written (before empty cells were named and duplicates mangled).
    pub header: Vec<String>,
    /// The separator, for delimited text.
    pub delimiter: Option<u8>,
    /// The 1-based source row of each data row (text line or sheet row), for error messages.
    pub source_rows: Vec<u64>,
    /// The name used in messages (usually the path).
    pub name: String,
}

impl Table {
    /// Number of data rows.
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Column names (unique: empty header cells become `Unnamed: <i>`, repeats get `.1`, `.2`, as
    /// pandas names them).
    pub fn column_names(&self) -> Vec<String> {
        self.batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.batch.schema().index_of(name).ok()
    }

    /// Whether a header cell was written more than once (empty cells excluded).
    pub fn duplicate_header(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.header
            .iter()
            .find(|h| !h.is_empty() && !seen.insert(h.as_str()))
            .map(|s| s.as_str())
    }

    /// Column `i` as text cells (None = NA); numbers formatted back to text.
    pub fn text_column(&self, i: usize) -> Vec<Option<String>> {
        let col = self.batch.column(i);
        (0..col.len())
            .map(|r| {
                if col.is_null(r) {
                    return None;
                }
                if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                    Some(a.value(r).to_string())
                } else if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
                    Some(a.value(r).to_string())
                } else {
                    col.as_any()
                        .downcast_ref::<Float64Array>()
                        .map(|a| a.value(r).to_string())
                }
            })
            .collect()
    }

    /// Column `i` as numbers when it is numeric (NA and null → NaN), else `None`.
    pub fn numeric_column(&self, i: usize) -> Option<Vec<f64>> {
        let col = self.batch.column(i);
        if let Some(a) = col.as_any().downcast_ref::<Float64Array>() {
            Some(
                (0..a.len())
                    .map(|r| if a.is_null(r) { f64::NAN } else { a.value(r) })
                    .collect(),
            )
        } else {
            col.as_any().downcast_ref::<Int64Array>().map(|a| {
                (0..a.len())
                    .map(|r| {
                        if a.is_null(r) {
                            f64::NAN
                        } else {
                            a.value(r) as f64
                        }
                    })
                    .collect()
            })
        }
    }

    /// Column `i` as numbers, or an error naming the first cell that is not a number.
    pub fn require_numeric(&self, i: usize) -> io::Result<Vec<f64>> {
        if let Some(v) = self.numeric_column(i) {
            return Ok(v);
        }
        let name = self.batch.schema().field(i).name().clone();
        for (r, cell) in self.text_column(i).iter().enumerate() {
            if let Some(c) = cell
                && parse_f64(c).is_none()
            {
                return Err(
                    TableError::new(&self.name, format!("expected a number, found {c:?}"))
                        .at_row(self.source_rows.get(r).copied().unwrap_or(r as u64 + 2))
                        .at_column(name)
                        .into_io(),
                );
            }
        }
        Err(TableError::new(&self.name, "expected a numeric column")
            .at_column(name)
            .into_io())
    }
}

/// Names columns as pandas does: empty header cells become `Unnamed: <i>`; repeated names get
/// `.1`, `.2`, ... with written names served before the unnamed ones.
pub fn unique_names(header: &[String]) -> Vec<String> {
    let mut names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if h.is_empty() {
                format!("Unnamed: {i}")
            } else {
                h.clone()
            }
        })
        .collect();
    let unnamed: Vec<usize> = (0..header.len())
        .filter(|&i| header[i].is_empty())
        .collect();
    let order: Vec<usize> = (0..header.len())
        .filter(|i| !header[*i].is_empty())
        .chain(unnamed)
        .collect();
    let all: std::collections::HashSet<String> = names.iter().cloned().collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for i in order {
        let old = names[i].clone();
        let mut col = old.clone();
        let mut cur = counts.get(&col).copied().unwrap_or(0);
        if cur > 0 {
            while cur > 0 {
                counts.insert(old.clone(), cur + 1);
                col = format!("{old}.{cur}");
                if all.contains(&col) {
                    cur += 1;
                } else {
                    cur = counts.get(&col).copied().unwrap_or(0);
                }
            }
            names[i] = col.clone();
        }
        counts.insert(col, cur + 1);
    }
    names
}

/// One column of cells before typing.
#[derive(Clone, Debug, Default)]
pub enum Cell {
    /// Missing.
    #[default]
    Na,
    /// Text (from a text file, or a spreadsheet text cell).
    Text(String),
    /// A number stored as a number (spreadsheets).
    Number(f64),
}

/// Types one column of cells: Int64 / Float64 when every non-NA cell is a number, else Utf8.
pub fn type_column(cells: &[Cell]) -> ArrayRef {
    let mut all_int = true;
    let mut all_num = true;
    for c in cells {
        match c {
            Cell::Na => {}
            Cell::Number(v) => {
                if v.fract() != 0.0 || !v.is_finite() || v.abs() > 9.0e15 {
                    all_int = false;
                }
            }
            Cell::Text(s) => {
                if all_int && parse_i64(s).is_none() {
                    all_int = false;
                }
                if !all_int && parse_f64(s).is_none() {
                    all_num = false;
                    break;
                }
            }
        }
    }
    let any_value = cells.iter().any(|c| !matches!(c, Cell::Na));
    if all_int && any_value {
        let v: Int64Array = cells
            .iter()
            .map(|c| match c {
                Cell::Na => None,
                Cell::Number(v) => Some(*v as i64),
                Cell::Text(s) => parse_i64(s),
            })
            .collect();
        Arc::new(v)
    } else if all_num {
        let v: Float64Array = cells
            .iter()
            .map(|c| match c {
                Cell::Na => None,
                Cell::Number(v) => Some(*v),
                Cell::Text(s) => parse_f64(s),
            })
            .collect();
        Arc::new(v)
    } else {
        let v: StringArray = cells
            .iter()
            .map(|c| match c {
                Cell::Na => None,
                Cell::Number(v) => Some(format_number(*v)),
                Cell::Text(s) => Some(s.clone()),
            })
            .collect();
        Arc::new(v)
    }
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Builds a [`Table`] from a header and column-major cells.
pub fn build(
    name: &str,
    header: Vec<String>,
    columns: Vec<Vec<Cell>>,
    source_rows: Vec<u64>,
    delimiter: Option<u8>,
) -> io::Result<Table> {
    let names = unique_names(&header);
    let arrays: Vec<ArrayRef> = columns.iter().map(|c| type_column(c)).collect();
    let fields: Vec<Field> = names
        .iter()
        .zip(&arrays)
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = if arrays.is_empty() {
        RecordBatch::new_empty(schema)
    } else {
        RecordBatch::try_new(schema, arrays)
            .map_err(|e| TableError::new(name, e.to_string().to_lowercase()).into_io())?
    };
    Ok(Table {
        batch,
        header,
        delimiter,
        source_rows,
        name: name.to_string(),
    })
}

/// Reads delimited text; `delimiter` None sniffs it from the first 64 KiB.
///
/// A row with more or fewer fields than the header is an error naming its line.
pub fn read_delimited<R: BufRead>(
    mut inner: R,
    name: &str,
    delimiter: Option<u8>,
) -> io::Result<Table> {
    let d = match delimiter {
        Some(d) => d,
        None => {
            let head = inner.fill_buf()?;
            let mut probe = head.to_vec();
            if probe.len() < 65536 && !probe.contains(&b'\n') {
                // fill_buf may return a short buffer; good enough for a one-line file.
                probe.push(b'\n');
            }
            delimited::sniff_delimiter(&probe)
        }
    };
    let mut reader = delimited::Reader::new(inner, d, name);
    let mut rec = Record::default();
    if reader.read_record(&mut rec)? == 0 {
        return build(name, Vec::new(), Vec::new(), Vec::new(), Some(d));
    }
    let header: Vec<String> = rec.iter().map(|s| s.to_string()).collect();
    let width = header.len();
    let mut columns: Vec<Vec<Cell>> = vec![Vec::new(); width];
    let mut rows = Vec::new();
    while reader.read_record(&mut rec)? > 0 {
        if rec.len() != width {
            return Err(TableError::new(
                name,
                format!(
                    "expected {width} fields as in the header, found {}",
                    rec.len()
                ),
            )
            .at_row(reader.record_line())
            .into_io());
        }
        for (c, f) in rec.iter().enumerate() {
            columns[c].push(if is_na(f) {
                Cell::Na
            } else {
                Cell::Text(f.to_string())
            });
        }
        rows.push(reader.record_line());
    }
    build(name, header, columns, rows, Some(d))
}

/// Reads the first sheet of an Excel `.xlsx` workbook, the first row being the header (as
/// `pandas.read_excel` does). Text cells that are NA tokens are NA.
pub fn read_xlsx(path: &Path) -> io::Result<Table> {
    use calamine::{Data, Reader as _};
    let name = path.display().to_string();
    let err = |e: String| TableError::new(&name, e.to_lowercase()).into_io();
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook(path).map_err(|e: calamine::XlsxError| err(e.to_string()))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| err("workbook has no sheet".into()))?
        .map_err(|e| err(e.to_string()))?;
    let (h, w) = range.get_size();
    let (r0, c0) = range
        .start()
        .map(|(r, c)| (r as usize, c as usize))
        .unwrap_or((0, 0));
    // Cells are placed at their absolute position, so leading empty columns are kept as pandas does.
    let width = c0 + w;
    let mut header = vec![String::new(); width];
    let mut columns: Vec<Vec<Cell>> = vec![Vec::new(); width];
    let mut rows_src = Vec::new();
    let cell = |d: &Data| -> Cell {
        match d {
            Data::Empty | Data::Error(_) => Cell::Na,
            Data::String(s) => {
                if is_na(s) {
                    Cell::Na
                } else {
                    Cell::Text(s.clone())
                }
            }
            Data::Float(f) => Cell::Number(*f),
            Data::Int(i) => Cell::Number(*i as f64),
            Data::Bool(b) => Cell::Text(if *b { "True".into() } else { "False".into() }),
            Data::DateTime(d) => Cell::Number(d.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        }
    };
    for (ri, row) in range.rows().enumerate() {
        let abs = r0 + ri;
        if abs == 0 || (ri == 0 && r0 > 0) {
            for (ci, d) in row.iter().enumerate() {
                header[c0 + ci] = match cell(d) {
                    Cell::Na => String::new(),
                    Cell::Text(s) => s,
                    Cell::Number(v) => format_number(v),
                };
            }
            continue;
        }
        for col in columns.iter_mut().take(c0) {
            col.push(Cell::Na);
        }
        for (ci, d) in row.iter().enumerate() {
            columns[c0 + ci].push(cell(d));
        }
        rows_src.push(abs as u64 + 1);
    }
    let _ = h;
    build(&name, header, columns, rows_src, None)
}

/// Reads a Parquet file into one [`Table`] (all row groups).
pub fn read_parquet(path: &Path) -> io::Result<Table> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let name = path.display().to_string();
    let err = |e: String| TableError::new(&name, e.to_lowercase()).into_io();
    let file = File::open(path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(e.to_string()))?;
    let n = builder.metadata().file_metadata().num_rows().max(1) as usize;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(n)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut batch = RecordBatch::new_empty(schema.clone());
    for b in reader {
        let b = b.map_err(|e| err(e.to_string()))?;
        if batch.num_rows() > 0 {
            return Err(err("more than one record batch".into()));
        }
        batch = b;
    }
    let header = schema.fields().iter().map(|f| f.name().clone()).collect();
    let rows = (0..batch.num_rows() as u64).map(|r| r + 1).collect();
    Ok(Table {
        batch,
        header,
        delimiter: None,
        source_rows: rows,
        name,
    })
}

/// Writes a record batch as Parquet (zstd), returning the writer's inner sink.
pub fn write_parquet<W: io::Write + Send>(batch: &RecordBatch, sink: W) -> io::Result<W> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w =
        ArrowWriter::try_new(sink, batch.schema(), Some(props)).map_err(io::Error::other)?;
    w.write(batch).map_err(io::Error::other)?;
    w.into_inner().map_err(io::Error::other)
}

/// Writes a record batch as Parquet (zstd) without dictionary pages, as suits wide numeric
/// tables (one row per subject, one float column per feature); returns the inner sink.
pub fn write_parquet_plain<W: io::Write + Send>(batch: &RecordBatch, sink: W) -> io::Result<W> {
    PlainParquet::new(batch.schema()).write(batch, sink)
}

/// The settings of [`write_parquet_plain`] for one schema, with the schema's Arrow encoding
/// (the `ARROW:schema` footer entry) made once: for many batches of one schema whose metadata is
/// large (e.g. table parts listing ~850k feature names). The bytes written are those of
/// [`write_parquet_plain`].
#[derive(Clone)]
pub struct PlainParquet {
    schema: arrow_schema::SchemaRef,
    props: parquet::file::properties::WriterProperties,
}

impl std::fmt::Debug for PlainParquet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainParquet")
            .field("columns", &self.schema.fields().len())
            .finish_non_exhaustive()
    }
}

impl PlainParquet {
    /// The settings for batches of `schema`.
    pub fn new(schema: arrow_schema::SchemaRef) -> Self {
        use parquet::basic::{Compression, ZstdLevel};
        use parquet::file::properties::WriterProperties;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_dictionary_enabled(false)
            .set_created_by("bomdata".to_string())
            .build();
        parquet::arrow::add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        PlainParquet { schema, props }
    }

    /// The schema these settings were made for.
    pub fn schema(&self) -> &arrow_schema::SchemaRef {
        &self.schema
    }

    /// Writes `batch` (of [`Self::schema`]) as Parquet; returns the inner sink.
    pub fn write<W: io::Write + Send>(&self, batch: &RecordBatch, sink: W) -> io::Result<W> {
        use parquet::arrow::ArrowWriter;
        use parquet::arrow::arrow_writer::ArrowWriterOptions;
        let schema = batch.schema();
        if !Arc::ptr_eq(&schema, &self.schema) && schema != self.schema {
            return Err(io::Error::other(
                "Parquet writer: the batch's schema is not the one the settings were made for",
            ));
        }
        let opts = ArrowWriterOptions::new()
            .with_properties(self.props.clone())
            .with_skip_arrow_metadata(true);
        let mut w = ArrowWriter::try_new_with_options(sink, self.schema.clone(), opts)
            .map_err(io::Error::other)?;
        w.write(batch).map_err(io::Error::other)?;
        w.into_inner().map_err(io::Error::other)
    }
}

/// Reads any table file by its extension: `.xlsx`, `.parquet`, else delimited text (gzip, BGZF
/// and zstd undone first).
pub fn read_path(path: &Path) -> io::Result<Table> {
    let lower = path.to_string_lossy().to_lowercase();
    if lower.ends_with(".xlsx") {
        return read_xlsx(path);
    }
    if lower.ends_with(".parquet") {
        return read_parquet(path);
    }
    let (r, _) = bomdata_format_core::compression::open(path)?;
    read_delimited(
        BufReader::with_capacity(1 << 16, r),
        &path.display().to_string(),
        None,
    )
}

/// Reads the first bytes of a file (at most `n`).
pub(crate) fn head_bytes(path: &Path, n: u64) -> io::Result<Vec<u8>> {
    let (r, _) = bomdata_format_core::compression::open(path)?;
    let mut v = Vec::new();
    r.take(n).read_to_end(&mut v)?;
    Ok(v)
}

/// The Arrow type names of a table's columns (for reports).
pub fn column_types(batch: &RecordBatch) -> Vec<(String, DataType)> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_names() {
        let h: Vec<String> = ["", "Unnamed: 0", "x", "x", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            unique_names(&h),
            ["Unnamed: 0.1", "Unnamed: 0", "x", "x.1", "Unnamed: 4"]
        );
    }

    #[test]
    fn types_and_ragged() {
        let t = read_delimited("a;b;c\n1;2.5;x\nNA;;y\n".as_bytes(), "t", None).unwrap();
        let types: Vec<_> = column_types(&t.batch).into_iter().map(|(_, t)| t).collect();
        assert_eq!(types, [DataType::Int64, DataType::Float64, DataType::Utf8]);
        assert_eq!(t.batch.column(0).null_count(), 1);
        let e = read_delimited("a,b\n1,2\n3\n".as_bytes(), "f.csv", None).unwrap_err();
        let te = TableError::from_io(&e).unwrap();
        assert_eq!(te.row, Some(3));
        assert_eq!(
            e.to_string(),
            "f.csv: line 3: expected 2 fields as in the header, found 1"
        );
    }
}
