//! Streamed conversion of a wide numeric matrix (an ID column plus one numeric column per sample,
//! e.g. an EPIC beta CSV) to Parquet.
//!
//! The input is read in blocks of whole lines while the previous block is parsed; each block is
//! cut into pieces at line ends and the pieces are parsed in parallel straight into column-major
//! buffers (no per-cell allocation); the columns are then encoded in parallel, one Parquet column
//! writer per column, and the finished column chunks are appended to the file row group by row
//! group. Cells are parsed as `f64` (correctly rounded, as pandas does) and stored as `f32`; NA
//! cells become NaN. Errors name the line and column.
//!
//! The usual line (the ID, then numbers of the form `-?d*.d*`) takes one pass: the delimiters and
//! line ends of 64 bytes at a time become bit masks (SSE2), so each cell's bounds are known before
//! it is parsed and the cells of a line are parsed independently (short cells from one 8-byte
//! load); anything else goes through the general line parser. The float columns are written
//! through plain Parquet column writers (`write_batch` of the column slice as it lies, non-null)
//! into in-memory chunks reused from row group to row group; the probe IDs through the Arrow
//! writer.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::ArrayRef;
use arrow_array::builder::StringBuilder;
use arrow_schema::{DataType, Field, Schema};
use bomdata_format_core::compression::{Compression as Packing, sniff};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::page::{CompressedPage, PageWriteSpec, PageWriter};
use parquet::column::writer::{ColumnCloseResult, ColumnWriterImpl, get_column_writer};
use parquet::data_type::FloatType;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::delimited::{self, Record};
use crate::table::is_na;
use crate::{TableError, methylation};

pub mod scratch;

/// How [`convert_to_parquet_with`] writes its output.
#[derive(Clone, Debug)]
pub struct MatrixOptions {
    /// Most rows per Parquet row group (0 = about 128 MiB of values per row group).
    pub rows_per_group: usize,
    /// Page compression of every column (default zstd level 1, as pyarrow's zstd default).
    pub compression: Compression,
    /// Bytes of text parsed per round (default 32 MiB).
    pub block_bytes: usize,
    /// Encode the float columns with BYTE_STREAM_SPLIT (better compression, slower) instead of
    /// PLAIN.
    pub byte_stream_split: bool,
}

impl Default for MatrixOptions {
    fn default() -> Self {
        MatrixOptions {
            rows_per_group: 0,
            compression: Compression::ZSTD(ZstdLevel::default()),
            block_bytes: 32 << 20,
            byte_stream_split: false,
        }
    }
}

/// Summary of a streamed conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Probes (rows) written.
    pub n_probes: u64,
    /// Sample columns.
    pub sample_ids: Vec<String>,
    /// Column holding the probe IDs.
    pub probe_id_column: String,
}

/// Streams a probes × samples beta CSV/TSV into Parquet (`probe_id` + Float32 per sample, zstd)
/// with at most `rows_per_group` rows per row group (0 = automatic). See
/// [`convert_to_parquet_with`].
pub fn convert_to_parquet<R: BufRead + Send, W: Write + Send>(
    input: R,
    name: &str,
    output: W,
    rows_per_group: usize,
) -> io::Result<ConvertSummary> {
    let opts = MatrixOptions {
        rows_per_group,
        ..MatrixOptions::default()
    };
    convert_to_parquet_with(input, name, output, &opts)
}

/// What a column of the input is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    Sample,
    Skip,
}

/// The header of a matrix in conversion: what each column is.
pub(crate) struct Header {
    name: String,
    header: Vec<String>,
    names: Vec<String>,
    kinds: Vec<Kind>,
    probe_col: usize,
    d: u8,
}

impl Header {
    /// Reads the header line from `input` (leaving it at the first data line).
    fn read<R: BufRead>(input: &mut R, name: &str) -> io::Result<Self> {
        let d = delimited::sniff_delimiter(input.fill_buf()?);
        let mut reader = delimited::Reader::new(input, d, name);
        let mut rec = Record::default();
        if reader.read_record(&mut rec)? == 0 {
            return Err(TableError::new(name, "empty file").into_io());
        }
        let header: Vec<String> = rec.iter().map(|s| s.to_string()).collect();
        let names = crate::table::unique_names(&header);
        let probe_col = methylation::PROBE_ID_COLUMNS
            .iter()
            .find_map(|c| header.iter().position(|h| h == c))
            .unwrap_or(0);
        let mut seen = std::collections::HashSet::new();
        for h in &header {
            if !h.is_empty() && !seen.insert(h) {
                return Err(TableError::new(
                    name,
                    format!("sample id {h:?} is repeated in the header"),
                )
                .at_row(1)
                .into_io());
            }
        }
        let kinds: Vec<Kind> = header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if i == probe_col {
                    Kind::Id
                } else if h.is_empty() || h.starts_with("Unnamed: ") {
                    Kind::Skip
                } else {
                    Kind::Sample
                }
            })
            .collect();
        Ok(Header {
            name: name.to_string(),
            header,
            names,
            kinds,
            probe_col,
            d,
        })
    }

    /// The sample columns' names, in order.
    fn sample_names(&self) -> impl Iterator<Item = &String> {
        (0..self.header.len())
            .filter(|&i| self.kinds[i] == Kind::Sample)
            .map(|i| &self.names[i])
    }

    fn ctx(&self, block: usize) -> LineCtx<'_> {
        line_ctx(&self.name, self.d, &self.kinds, &self.names, block)
    }

    fn summary(&self, n_probes: u64) -> ConvertSummary {
        ConvertSummary {
            n_probes,
            sample_ids: self.sample_names().cloned().collect(),
            probe_id_column: self.header.get(self.probe_col).cloned().unwrap_or_default(),
        }
    }
}

/// Where the parsed rows of a conversion go, block by block.
pub(crate) trait Rows {
    /// Takes the rows of the parsed pieces of one block, in order.
    fn push(&mut self, pieces: &mut [Piece]) -> io::Result<()>;
}

/// The schema and Parquet writer of a conversion in progress.
struct Job<W: Write + Send> {
    schema: Arc<Schema>,
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    writers: Option<Writers>,
    /// Encoded-chunk buffers of the float columns, reused from row group to row group.
    spare: Vec<Vec<u8>>,
    group_rows: usize,
    in_group: usize,
    n_groups: usize,
    n_probes: u64,
}

impl<W: Write + Send> Job<W> {
    /// Opens the Parquet writer of the matrix `head`.
    fn start(head: &Header, output: W, opts: &MatrixOptions) -> io::Result<Self> {
        let mut fields = vec![Field::new("probe_id", DataType::Utf8, false)];
        fields.extend(
            head.sample_names()
                .map(|n| Field::new(n, DataType::Float32, false)),
        );
        let ns = fields.len() - 1;
        let schema = Arc::new(Schema::new(fields));
        // Unique probe IDs and continuous values gain nothing from dictionary pages, and
        // min/max statistics of measurements prune nothing: kept for the probe IDs only.
        let mut props = WriterProperties::builder();
        if opts.byte_stream_split {
            props = props
                .set_encoding(Encoding::BYTE_STREAM_SPLIT)
                .set_column_encoding(ColumnPath::from("probe_id"), Encoding::PLAIN);
        }
        let props = props
            .set_compression(opts.compression)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled(ColumnPath::from("probe_id"), EnabledStatistics::Page)
            .set_created_by("bomdata".to_string())
            .build();
        let (file, factory) = ArrowWriter::try_new(output, schema.clone(), Some(props))
            .and_then(|w| w.into_serialized_writer())
            .map_err(io::Error::other)?;
        let group_rows = if opts.rows_per_group == 0 {
            ((128usize << 20) / (4 * ns.max(1))).clamp(1024, 1 << 20)
        } else {
            opts.rows_per_group
        };
        Ok(Job {
            schema,
            file,
            factory,
            writers: None,
            spare: Vec::new(),
            group_rows,
            in_group: 0,
            n_groups: 0,
            n_probes: 0,
        })
    }

    /// The column writers of the next row group: the Arrow writer for the probe IDs, and a plain
    /// Parquet column writer per float column (the values are written as they lie, non-null,
    /// without the Arrow writer's per-value index gather).
    fn open_group(&mut self) -> io::Result<Writers> {
        let mut arrow = self
            .factory
            .create_column_writers(self.n_groups)
            .map_err(io::Error::other)?;
        arrow.truncate(1);
        let id = arrow
            .pop()
            .ok_or_else(|| io::Error::other("no column writer for the probe ids"))?;
        let descr = self.file.schema_descr();
        let props = self.file.properties();
        let floats = (1..descr.num_columns())
            .map(|c| {
                let mut buf = self.spare.pop().unwrap_or_default();
                buf.clear();
                let sink = Arc::new(Mutex::new(TrackedWrite::new(buf)));
                let page_writer = Box::new(ChunkSink(sink.clone()));
                let writer = match get_column_writer(descr.column(c), props.clone(), page_writer) {
                    parquet::column::writer::ColumnWriter::FloatColumnWriter(w) => w,
                    _ => return Err(io::Error::other("sample column is not FLOAT")),
                };
                Ok(FloatWriter { writer, sink })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Writers { id, floats })
    }

    fn finish(mut self, head: &Header) -> io::Result<ConvertSummary> {
        if let Some(w) = self.writers.take() {
            flush_group(&mut self.file, w, &mut self.spare)?;
        }
        self.file.close().map_err(io::Error::other)?;
        Ok(head.summary(self.n_probes))
    }
}

impl<W: Write + Send> Rows for Job<W> {
    /// Encodes the rows of parsed pieces, closing row groups as they fill.
    fn push(&mut self, pieces: &mut [Piece]) -> io::Result<()> {
        let rows: usize = pieces.iter().map(|p| p.rows).sum();
        let mut a = 0;
        while a < rows {
            let w = match self.writers.as_mut() {
                Some(w) => w,
                None => {
                    let w = self.open_group()?;
                    self.writers.insert(w)
                }
            };
            let b = rows.min(a + (self.group_rows - self.in_group));
            encode_rows(&self.schema, w, pieces, a, b)?;
            self.in_group += b - a;
            a = b;
            if self.in_group >= self.group_rows
                && let Some(w) = self.writers.take()
            {
                flush_group(&mut self.file, w, &mut self.spare)?;
                self.n_groups += 1;
                self.in_group = 0;
            }
        }
        self.n_probes += rows as u64;
        Ok(())
    }
}

/// Streams a probes × samples numeric matrix into Parquet: a `probe_id` Utf8 column, then one
/// non-null Float32 column per sample (NA → NaN). Unnamed pandas index columns are dropped;
/// memory stays at about two blocks of text plus one encoded row group. The next block is read
/// while the current one is parsed.
pub fn convert_to_parquet_with<R: BufRead + Send, W: Write + Send>(
    mut input: R,
    name: &str,
    output: W,
    opts: &MatrixOptions,
) -> io::Result<ConvertSummary> {
    let head = Header::read(&mut input, name)?;
    let mut job = Job::start(&head, output, opts)?;
    drive_stream(&mut input, &head, block_bytes(opts), &mut job)?;
    job.finish(&head)
}

fn block_bytes(opts: &MatrixOptions) -> usize {
    opts.block_bytes.max(1 << 16)
}

/// Parses the lines after the header from `input` into `rows`, block by block, the next block
/// read while the current one is parsed.
fn drive_stream<R: BufRead + Send>(
    input: &mut R,
    head: &Header,
    block: usize,
    rows: &mut dyn Rows,
) -> io::Result<()> {
    let ctx = head.ctx(block);
    let mut carry = Vec::new();
    let mut cur = Vec::with_capacity(block + (1 << 16));
    let mut next = Vec::with_capacity(block + (1 << 16));
    let mut eof = read_block(input, &mut carry, &mut cur, block)?;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut line_base = 1u64; // lines before the current block (the header)
    while !cur.is_empty() {
        let (parsed, read) = rayon::join(
            || parse_block(&ctx, &cur, &mut pieces, line_base),
            || {
                if eof {
                    Ok(true)
                } else {
                    read_block(input, &mut carry, &mut next, block)
                }
            },
        );
        let (n_lines, used) = parsed?;
        let next_eof = read?;
        line_base += n_lines;
        rows.push(&mut pieces[..used])?;
        std::mem::swap(&mut cur, &mut next);
        next.clear();
        eof = next_eof;
    }
    Ok(())
}

/// Parses the matrix file at `path` into the rows sink made by `start` from its header: an
/// uncompressed file is memory-mapped and parsed in place (no copy); a gzip/BGZF/zstd one is
/// streamed. Returns the header and the sink.
pub(crate) fn drive_file<S: Rows>(
    path: &Path,
    block: usize,
    start: impl FnOnce(&Header) -> io::Result<S>,
) -> io::Result<(Header, S)> {
    let name = path.display().to_string();
    let f = File::open(path)?;
    let mut first = [0u8; 16];
    let n = (&f).read(&mut first)?;
    if !matches!(sniff(&first[..n]), Packing::None) || f.metadata()?.len() == 0 {
        let (r, _) = bomdata_format_core::compression::open(path)?;
        let mut input = BufReader::with_capacity(1 << 20, r);
        let head = Header::read(&mut input, &name)?;
        let mut rows = start(&head)?;
        drive_stream(&mut input, &head, block, &mut rows)?;
        return Ok((head, rows));
    }
    // SAFETY: the map is read-only; a file truncated by another process meanwhile can fault,
    // as for any reader of a file being rewritten.
    let map = unsafe { memmap2::Mmap::map(&f)? };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    let mut rest: &[u8] = &map;
    let head = Header::read(&mut rest, &name)?;
    let mut rows = start(&head)?;
    let ctx = head.ctx(block);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut line_base = 1u64; // lines before the block being parsed (the header)
    let mut released = 0usize;
    loop {
        let text = next_block(&mut rest, block);
        if text.is_empty() {
            break;
        }
        let (n_lines, used) = parse_block(&ctx, text, &mut pieces, line_base)?;
        line_base += n_lines;
        rows.push(&mut pieces[..used])?;
        // Parsed pages are not needed again: drop them from this process (not from the page
        // cache), so that the resident size stays at about one block of the input.
        #[cfg(unix)]
        {
            let upto = (map.len() - rest.len()) & !4095;
            if upto > released {
                // SAFETY: nothing reads these pages again; a read-only file mapping would
                // fault them back in from the file unchanged anyway.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        released,
                        upto - released,
                    )
                };
                released = upto;
            }
        }
    }
    Ok((head, rows))
}

/// [`convert_to_parquet_with`] for a file: an uncompressed file is memory-mapped and parsed in
/// place (no copy); a gzip/BGZF/zstd one is streamed.
pub fn convert_file_to_parquet<W: Write + Send>(
    path: &Path,
    output: W,
    opts: &MatrixOptions,
) -> io::Result<ConvertSummary> {
    let (head, job) = drive_file(path, block_bytes(opts), |h| Job::start(h, output, opts))?;
    job.finish(&head)
}

/// Reads whole lines into `buf` (the partial line left from the last call first) until it holds
/// at least `block` bytes or the input ends; keeps the trailing partial line in `carry`. Returns
/// whether the input has ended (then `buf` holds everything left, terminated or not).
fn read_block<R: Read>(
    input: &mut R,
    carry: &mut Vec<u8>,
    buf: &mut Vec<u8>,
    block: usize,
) -> io::Result<bool> {
    buf.clear();
    buf.append(carry);
    loop {
        let want = block.saturating_sub(buf.len()).max(1 << 16);
        let got = input.take(want as u64).read_to_end(buf)?;
        if got == 0 {
            return Ok(true);
        }
        if buf.len() >= block
            && let Some(i) = memchr::memrchr(b'\n', buf)
        {
            carry.extend_from_slice(&buf[i + 1..]);
            buf.truncate(i + 1);
            return Ok(false);
        }
    }
}

fn line_ctx<'c>(
    name: &'c str,
    d: u8,
    kinds: &'c [Kind],
    names: &'c [String],
    block: usize,
) -> LineCtx<'c> {
    LineCtx {
        name,
        d,
        kinds,
        names,
        ns: kinds.iter().filter(|&&k| k == Kind::Sample).count(),
        width: kinds.len(),
        block,
        simple: kinds.first() == Some(&Kind::Id) && kinds[1..].iter().all(|&k| k == Kind::Sample),
    }
}

/// Whole lines of about `block` bytes from the front of `rest`.
fn next_block<'m>(rest: &mut &'m [u8], block: usize) -> &'m [u8] {
    let r: &'m [u8] = rest;
    let cut = if r.len() <= block {
        r.len()
    } else {
        memchr::memchr(b'\n', &r[block..]).map_or(r.len(), |i| block + i + 1)
    };
    let (text, tail) = r.split_at(cut);
    *rest = tail;
    text
}

/// What every line parse needs to know.
struct LineCtx<'a> {
    name: &'a str,
    d: u8,
    kinds: &'a [Kind],
    names: &'a [String],
    ns: usize,
    width: usize,
    block: usize,
    /// The ID is the first column and every other column a sample.
    simple: bool,
}

/// One piece of a block, parsed: values column-major (`cap` slots per column).
#[derive(Default)]
pub(crate) struct Piece {
    /// Rows parsed.
    rows: usize,
    /// Slots per column in `values` (at least `rows`).
    cap: usize,
    /// Column `j`'s row `r` at `j * cap + r`.
    values: Vec<f32>,
    /// The probe IDs one after another, row `r`'s ending at `id_ends[r]`.
    ids: Vec<u8>,
    id_ends: Vec<usize>,
}

/// Parses a block of whole lines; returns the number of lines it held and the pieces used.
fn parse_block(
    ctx: &LineCtx<'_>,
    text: &[u8],
    pieces: &mut Vec<Piece>,
    line_base: u64,
) -> io::Result<(u64, usize)> {
    // Cut at line ends into pieces of about 1 MiB (smaller for small blocks).
    let mut bounds = vec![0usize];
    let target = (ctx.block / 16).clamp(4096, 1 << 20);
    while let Some(&s) = bounds.last() {
        if s >= text.len() {
            break;
        }
        let want = s + target;
        let e = if want >= text.len() {
            text.len()
        } else {
            memchr::memchr(b'\n', &text[want..]).map_or(text.len(), |i| want + i + 1)
        };
        bounds.push(e);
    }
    let n = bounds.len() - 1;
    if pieces.len() < n {
        pieces.resize_with(n, Piece::default);
    }
    let results: Vec<Result<u64, (u64, TableError)>> = pieces[..n]
        .par_iter_mut()
        .enumerate()
        .map(|(k, p)| parse_piece(ctx, &text[bounds[k]..bounds[k + 1]], p))
        .collect();
    let mut lines = 0u64;
    for r in results {
        match r {
            Ok(l) => lines += l,
            Err((l, e)) => return Err(e.at_row(line_base + lines + l).into_io()),
        }
    }
    Ok((lines, n))
}

/// Parses the lines of one piece; on error returns the 1-based line within the piece.
fn parse_piece(ctx: &LineCtx<'_>, text: &[u8], p: &mut Piece) -> Result<u64, (u64, TableError)> {
    let newlines = memchr::memchr_iter(b'\n', text).count();
    let cap = newlines + 1;
    let need = cap * ctx.ns;
    if p.values.len() < need {
        p.values.resize(need, 0.0);
    }
    p.cap = cap;
    p.rows = 0;
    p.ids.clear();
    p.id_ends.clear();
    let mut lines = 0u64;
    let mut start = 0;
    while start < text.len() {
        if ctx.simple
            && let Some(next) = parse_simple_at(ctx, text, start, p)
        {
            lines += 1;
            p.rows += 1;
            start = next;
            continue;
        }
        let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
        lines += 1;
        let raw = &text[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        start = end + 1;
        if raw.is_empty() {
            continue;
        }
        parse_line(ctx, raw, p).map_err(|e| (lines, e))?;
        p.rows += 1;
    }
    Ok(lines)
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The common cell: `-?digits[.digits]` with at most 15 digits, ending at the delimiter or the
/// end of the line. The quotient of an exact integer and an exact power of ten is correctly
/// rounded, so this equals a full `f64` parse. Returns the value and the end of the cell.
#[inline(always)]
fn fast_cell(b: &[u8], i: usize, d: u8) -> Option<(f32, usize)> {
    let (v, e) = fast_number(b, i)?;
    if b.get(e).is_some_and(|&c| c != d) {
        return None;
    }
    Some((v, e))
}

/// Appends the decimal digits from `b[i]` on to `m`; returns it and the index after them.
#[inline(always)]
fn digits(b: &[u8], mut i: usize, mut m: u64) -> (u64, usize) {
    while let Some(&c) = b.get(i) {
        let v = c.wrapping_sub(b'0');
        if v > 9 {
            break;
        }
        m = m.wrapping_mul(10).wrapping_add(u64::from(v));
        i += 1;
    }
    (m, i)
}

/// [`fast_cell`] without the check of what follows the number (the caller checks it).
#[inline(always)]
fn fast_number(b: &[u8], mut i: usize) -> Option<(f32, usize)> {
    let neg = b.get(i) == Some(&b'-');
    i += neg as usize;
    let s = i;
    let mut m;
    (m, i) = digits(b, i, 0);
    let int_digits = i - s;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let fs = i;
        // Up to 7 fraction digits at once (8 bytes holding the digits and what ends them).
        if let Some(w) = b.get(i..i + 8) {
            let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
                ^ 0x3030_3030_3030_3030;
            // Bit 7 of each byte whose value is not 0..=9; only the lowest such byte matters
            // (carries run upwards from it).
            let t = (x.wrapping_add(0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080;
            let n = (t.trailing_zeros() / 8) as usize;
            if (1..8).contains(&n) {
                m = m
                    .wrapping_mul(POW10_U64[n])
                    .wrapping_add(eight_digits(x << (8 * (8 - n))));
                i += n;
            }
        }
        (m, i) = digits(b, i, m);
        frac = i - fs;
    }
    let digits = int_digits + frac;
    if digits == 0 || digits > 15 {
        return None;
    }
    // With m < 2^24 and at most 8 decimals the quotient q = m / 10^k lies at a relative distance
    // of at least 1 / (10^8 * 2^25) > 2^-51.6 from every midpoint between two f32 values (its
    // numerator against a 25-bit midpoint is a non-zero integer), while m times the rounded f64
    // reciprocal is within 2^-52 of q: both round to the same f32 as the correctly rounded f64
    // quotient does. Otherwise divide in f64 and round.
    let v = if m < 1 << 24 && frac <= 8 {
        (m as i64 as f64 * INV10[frac]) as f32
    } else {
        (m as i64 as f64 / POW10[frac]) as f32
    };
    Some((if neg { -v } else { v }, i))
}

const INV10: [f64; 9] = [1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8];

const POW10_U64: [u64; 8] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000];

/// Eight digit values (0..=9, the first in the lowest byte) as one number.
#[inline(always)]
fn eight_digits(v: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    ((v & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2)))
        >> 32
}

/// Any other cell: NA tokens, exponents, infinities, spaces; else an error naming the cell.
fn slow_cell(ctx: &LineCtx<'_>, f: &[u8], col: usize) -> Result<f32, TableError> {
    if memchr::memchr(b'"', f).is_some() {
        return Err(TableError::new(
            ctx.name,
            "quoted fields are not supported in a streamed matrix",
        ));
    }
    let s = String::from_utf8_lossy(f);
    if is_na(&s) {
        Ok(f32::NAN)
    } else if let Some(v) = crate::table::parse_f64(&s) {
        Ok(v as f32)
    } else {
        Err(
            TableError::new(ctx.name, format!("expected a number, found {s:?}"))
                .at_column(ctx.names[col].clone()),
        )
    }
}

/// The usual line starting at `start` of a piece (the ID first, then only sample cells in the
/// fast form), parsed without looking for its end first: returns where the next line starts, or
/// None when the line is anything else or ends within 64 bytes of the piece's end (then nothing
/// is kept and the caller parses it again the general way).
///
/// The cell boundaries come from bit masks of the delimiters and line ends of 64 bytes at a time,
/// so that each cell's parse depends on no other and the cells of a line overlap in the CPU.
#[inline(always)]
fn parse_simple_at(ctx: &LineCtx<'_>, text: &[u8], start: usize, p: &mut Piece) -> Option<usize> {
    let (d, cap, r, ns) = (ctx.d, p.cap, p.rows, ctx.ns);
    if ns == 0 {
        return None;
    }
    let values = p.values.get_mut(r..)?;
    let mut id_end = None;
    let mut col = 0usize; // cells seen so far (the ID is cell 0)
    let mut cell = start;
    let mut base = start;
    loop {
        let window = text.get(base..base + 64)?;
        let (md, mn) = masks64(window, d);
        let mut m = md | mn;
        while m != 0 {
            let sep = base + m.trailing_zeros() as usize;
            m &= m - 1;
            let newline = mn & (1u64 << (sep - base)) != 0;
            if col == 0 {
                if newline {
                    return None;
                }
                id_end = Some(sep);
            } else {
                let end = if newline && sep > cell && text[sep - 1] == b'\r' {
                    sep - 1
                } else {
                    sep
                };
                let v = match short_number(text, cell, end) {
                    Some(v) => v,
                    None => {
                        let (v, e) = fast_number(text, cell)?;
                        if e != end {
                            return None;
                        }
                        v
                    }
                };
                *values.get_mut((col - 1) * cap)? = v;
            }
            if newline {
                if col != ns {
                    return None;
                }
                let id = &text[start..id_end?];
                if !id.is_ascii() || memchr::memchr2(b'"', b'\r', id).is_some() {
                    return None;
                }
                p.ids.extend_from_slice(id);
                p.id_ends.push(p.ids.len());
                return Some(sep + 1);
            }
            col += 1;
            if col > ns {
                return None;
            }
            cell = sep + 1;
        }
        base += 64;
    }
}

/// `text[s..e]` when it is `digits[.digits]` of at most 8 bytes (no sign), parsed without a
/// loop from one 8-byte load; the value equals [`fast_number`]'s. None for anything else.
#[inline(always)]
fn short_number(text: &[u8], s: usize, e: usize) -> Option<f32> {
    let len = e.checked_sub(s)?;
    if !(1..=8).contains(&len) {
        return None;
    }
    let w = text.get(s..s + 8)?;
    let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    let keep = u64::MAX >> (8 * (8 - len));
    let y = (x ^ 0x3030_3030_3030_3030) & keep;
    // A '.' (0x1E after the xor) among the cell's bytes: exact zero-byte test of y ^ 0x1E.
    let t = y ^ 0x1E1E_1E1E_1E1E_1E1E;
    let dots =
        !(((t & 0x7F7F_7F7F_7F7F_7F7F) + 0x7F7F_7F7F_7F7F_7F7F) | t) & 0x8080_8080_8080_8080 & keep;
    let (z, nd, frac) = if dots == 0 {
        (y, len, 0)
    } else {
        let p = (dots.trailing_zeros() / 8) as usize;
        let lo = y & ((1u64 << (8 * p)) - 1);
        let hi = y.checked_shr(8 * (p as u32 + 1)).unwrap_or(0);
        (lo | (hi << (8 * p)), len - 1, len - 1 - p)
    };
    if nd == 0 {
        return None;
    }
    // Every one of the nd bytes a digit (the lowest non-digit byte is always flagged).
    let nd_mask = u64::MAX >> (8 * (8 - nd));
    if (z.wrapping_add(0x7676_7676_7676_7676) | z) & 0x8080_8080_8080_8080 & nd_mask != 0 {
        return None;
    }
    let m = eight_digits(z << (8 * (8 - nd)));
    Some(if m < 1 << 24 {
        (m as f64 * INV10[frac]) as f32
    } else {
        (m as f64 / POW10[frac]) as f32
    })
}

/// Bit masks of the bytes equal to `d` and to `\n` in the first 64 bytes of `w` (bit i = byte i).
#[inline(always)]
fn masks64(w: &[u8], d: u8) -> (u64, u64) {
    let w: &[u8; 64] = match w.first_chunk() {
        Some(w) => w,
        None => return (0, 0),
    };
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        let (mut md, mut mn) = (0u64, 0u64);
        // SAFETY: SSE2 is part of x86_64; each load reads 16 bytes inside the 64-byte array.
        unsafe {
            let vd = _mm_set1_epi8(d as i8);
            let vn = _mm_set1_epi8(b'\n' as i8);
            for k in 0..4 {
                let v = _mm_loadu_si128(w.as_ptr().add(16 * k).cast::<__m128i>());
                md |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, vd)) as u32 as u64) << (16 * k);
                mn |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, vn)) as u32 as u64) << (16 * k);
            }
        }
        (md, mn)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (mut md, mut mn) = (0u64, 0u64);
        for (k, &c) in w.iter().enumerate() {
            md |= ((c == d) as u64) << k;
            mn |= ((c == b'\n') as u64) << k;
        }
        (md, mn)
    }
}

/// The usual line (the ID first, then only sample cells in the fast form): false when the line
/// is anything else, to be parsed again by [`parse_line`].
#[inline(always)]
fn parse_simple_line(ctx: &LineCtx<'_>, raw: &[u8], p: &mut Piece) -> bool {
    let (d, cap, r) = (ctx.d, p.cap, p.rows);
    let Some(e) = memchr::memchr(d, raw) else {
        return false;
    };
    let id = &raw[..e];
    if !id.is_ascii() || memchr::memchr(b'"', id).is_some() {
        return false;
    }
    let values = &mut p.values[r..];
    let mut i = e + 1;
    let mut at = 0;
    for k in 0..ctx.ns {
        let Some((v, e)) = fast_cell(raw, i, d) else {
            return false;
        };
        let Some(slot) = values.get_mut(at) else {
            return false;
        };
        *slot = v;
        at += cap;
        i = e + 1;
        if e == raw.len() {
            if k + 1 != ctx.ns {
                return false;
            }
            p.ids.extend_from_slice(id);
            p.id_ends.push(p.ids.len());
            return true;
        }
    }
    false
}

fn parse_line(ctx: &LineCtx<'_>, raw: &[u8], p: &mut Piece) -> Result<(), TableError> {
    if ctx.simple && parse_simple_line(ctx, raw, p) {
        return Ok(());
    }
    let (d, cap, r) = (ctx.d, p.cap, p.rows);
    let mut i = 0usize;
    let mut k = 0usize;
    let mut col = 0usize;
    loop {
        let kind = ctx.kinds.get(col).copied().unwrap_or(Kind::Skip);
        let end = if kind == Kind::Sample
            && let Some((v, e)) = fast_cell(raw, i, d)
        {
            p.values[k * cap + r] = v;
            k += 1;
            e
        } else {
            let e = memchr::memchr(d, &raw[i..]).map_or(raw.len(), |j| i + j);
            let f = &raw[i..e];
            match kind {
                Kind::Sample => {
                    p.values[k * cap + r] = slow_cell(ctx, f, col)?;
                    k += 1;
                }
                Kind::Id => {
                    if memchr::memchr(b'"', f).is_some() {
                        return Err(TableError::new(
                            ctx.name,
                            "quoted fields are not supported in a streamed matrix",
                        ));
                    }
                    let id = std::str::from_utf8(f).map_err(|_| {
                        TableError::new(ctx.name, "probe id is not UTF-8")
                            .at_column(ctx.names[col].clone())
                    })?;
                    p.ids.extend_from_slice(id.as_bytes());
                    p.id_ends.push(p.ids.len());
                }
                Kind::Skip => {}
            }
            e
        };
        col += 1;
        if end >= raw.len() {
            break;
        }
        i = end + 1;
    }
    if col != ctx.width {
        return Err(TableError::new(
            ctx.name,
            format!(
                "expected {} fields as in the header, found {col}",
                ctx.width
            ),
        ));
    }
    Ok(())
}

/// The column writers of one row group.
struct Writers {
    id: ArrowColumnWriter,
    floats: Vec<FloatWriter>,
}

/// A float column's writer, its pages encoded into an in-memory chunk.
struct FloatWriter {
    writer: ColumnWriterImpl<'static, FloatType>,
    sink: Arc<Mutex<TrackedWrite<Vec<u8>>>>,
}

/// A [`PageWriter`] appending serialized pages to an in-memory column chunk.
struct ChunkSink(Arc<Mutex<TrackedWrite<Vec<u8>>>>);

impl PageWriter for ChunkSink {
    fn write_page(&mut self, page: CompressedPage) -> parquet::errors::Result<PageWriteSpec> {
        let mut sink = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        SerializedPageWriter::new(&mut sink).write_page(page)
    }

    fn close(&mut self) -> parquet::errors::Result<()> {
        Ok(())
    }
}

/// An encoded column chunk, read back by [`parquet::file::writer::SerializedRowGroupWriter::append_column`].
struct Chunk<'a>(&'a [u8]);

impl Length for Chunk<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl<'a> ChunkReader for Chunk<'a> {
    type T = &'a [u8];

    fn get_read(&self, start: u64) -> parquet::errors::Result<&'a [u8]> {
        Ok(self.0.get(start as usize..).unwrap_or_default())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let s = start as usize;
        self.0
            .get(s..s.saturating_add(length))
            .map(bytes::Bytes::copy_from_slice)
            .ok_or_else(|| parquet::errors::ParquetError::EOF("chunk range out of bounds".into()))
    }
}

/// Writes rows `a..b` of a parsed block (pieces in order) to the column writers, in parallel.
fn encode_rows(
    schema: &Schema,
    writers: &mut Writers,
    pieces: &[Piece],
    a: usize,
    b: usize,
) -> io::Result<()> {
    // (piece, first row, last row) overlapping a..b.
    let mut spans = Vec::new();
    let mut at = 0;
    for p in pieces {
        let (s, e) = (a.max(at), b.min(at + p.rows));
        if s < e {
            spans.push((p, s - at, e - at));
        }
        at += p.rows;
    }
    let spans = &spans;
    let Writers { id, floats } = writers;
    let (ids, values) = rayon::join(
        || -> io::Result<()> {
            let bytes: usize = spans
                .iter()
                .map(|(p, s, e)| id_range(p, *s, *e).len())
                .sum();
            let mut sb = StringBuilder::with_capacity(b - a, bytes);
            for (p, s, e) in spans {
                for r in *s..*e {
                    let id = id_range(p, r, r + 1);
                    // Checked when parsed.
                    sb.append_value(std::str::from_utf8(id).map_err(io::Error::other)?);
                }
            }
            let array: ArrayRef = Arc::new(sb.finish());
            for leaf in compute_leaves(schema.field(0), &array).map_err(io::Error::other)? {
                id.write(&leaf).map_err(io::Error::other)?;
            }
            Ok(())
        },
        || {
            floats
                .par_iter_mut()
                .enumerate()
                .try_for_each(|(j, w)| -> io::Result<()> {
                    for (p, s, e) in spans {
                        let v = &p.values[j * p.cap + s..j * p.cap + e];
                        w.writer
                            .write_batch(v, None, None)
                            .map_err(io::Error::other)?;
                    }
                    Ok(())
                })
        },
    );
    ids.and(values)
}

fn id_range(p: &Piece, s: usize, e: usize) -> &[u8] {
    let from = if s == 0 { 0 } else { p.id_ends[s - 1] };
    let to = if e == 0 { 0 } else { p.id_ends[e - 1] };
    &p.ids[from..to]
}

/// Closes the column writers of a row group and appends their chunks to the file; the float
/// chunks' buffers go back to `spare`.
fn flush_group<W: Write + Send>(
    file: &mut SerializedFileWriter<W>,
    writers: Writers,
    spare: &mut Vec<Vec<u8>>,
) -> io::Result<()> {
    let Writers { id, floats } = writers;
    let (id_chunk, float_chunks) = rayon::join(
        || id.close(),
        || {
            floats
                .into_par_iter()
                .map(|w| -> io::Result<(ColumnCloseResult, Vec<u8>)> {
                    let close = w.writer.close().map_err(io::Error::other)?;
                    let mut sink = w.sink.lock().unwrap_or_else(PoisonError::into_inner);
                    let tw = std::mem::replace(&mut *sink, TrackedWrite::new(Vec::new()));
                    Ok((close, tw.into_inner().map_err(io::Error::other)?))
                })
                .collect::<io::Result<Vec<_>>>()
        },
    );
    let id_chunk = id_chunk.map_err(io::Error::other)?;
    let float_chunks = float_chunks?;
    let mut rg = file.next_row_group().map_err(io::Error::other)?;
    id_chunk
        .append_to_row_group(&mut rg)
        .map_err(io::Error::other)?;
    for (close, buf) in float_chunks {
        rg.append_column(&Chunk(&buf), close)
            .map_err(io::Error::other)?;
        spare.push(buf);
    }
    rg.close().map_err(io::Error::other)?;
    Ok(())
}

impl MatrixOptions {
    /// For a temporary copy that is read back soon ([`read_sample_columns`]): pages
    /// uncompressed, the rest as [`MatrixOptions::default`].
    pub fn scratch() -> Self {
        MatrixOptions {
            compression: Compression::UNCOMPRESSED,
            ..MatrixOptions::default()
        }
    }
}

/// Reads the `probe_id` column of a file written by [`convert_to_parquet_with`], in row order.
pub fn read_probe_ids(file: &File) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for batch in projected(file, &[0])? {
        let batch = batch.map_err(io::Error::other)?;
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .ok_or_else(|| io::Error::other("converted matrix: probe_id is not Utf8"))?;
        out.extend(ids.iter().map(|s| s.unwrap_or_default().to_string()));
    }
    Ok(out)
}

/// Reads the sample columns `samples` (0-based among the sample columns) of a file written by
/// [`convert_to_parquet_with`]: one vector per sample, in probe order. Memory is the columns
/// asked for, so a whole matrix can be turned sample-major a few samples at a time.
pub fn read_sample_columns(
    file: &File,
    samples: std::ops::Range<usize>,
) -> io::Result<Vec<Vec<f32>>> {
    let cols: Vec<usize> = samples.map(|j| j + 1).collect();
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); cols.len()];
    for batch in projected(file, &cols)? {
        let batch = batch.map_err(io::Error::other)?;
        for (k, v) in out.iter_mut().enumerate() {
            let a = batch
                .column(k)
                .as_any()
                .downcast_ref::<arrow_array::Float32Array>()
                .ok_or_else(|| io::Error::other("converted matrix: a sample is not Float32"))?;
            v.extend_from_slice(a.values());
        }
    }
    Ok(out)
}

/// The sample columns `samples` (0-based among the sample columns, each at most once, in any
/// order) of a file written by [`convert_to_parquet_with`] into one buffer, sample after sample:
/// on return `out` holds `samples.len() × n_probes` values, `samples[k]`'s probe `i` at
/// `k * n_probes + i` (the layout of a list column of one row per sample). `out` is cleared
/// first; its allocation is kept.
pub fn read_sample_columns_into(
    file: &File,
    samples: &[usize],
    n_probes: usize,
    out: &mut Vec<f32>,
) -> io::Result<()> {
    // The reader yields the projected columns in file order: `slot[k]` is where the k-th of
    // them goes in `out`.
    let mut by_file: Vec<(usize, usize)> = samples
        .iter()
        .enumerate()
        .map(|(k, &j)| (j + 1, k))
        .collect();
    by_file.sort_unstable();
    if by_file.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(io::Error::other(
            "converted matrix: a sample column asked for twice",
        ));
    }
    let cols: Vec<usize> = by_file.iter().map(|&(c, _)| c).collect();
    out.clear();
    out.resize(samples.len() * n_probes, 0.0);
    let mut row = 0usize;
    for batch in projected(file, &cols)? {
        let batch = batch.map_err(io::Error::other)?;
        let n = batch.num_rows();
        if row + n > n_probes || batch.num_columns() != cols.len() {
            return Err(io::Error::other("converted matrix: more rows than probes"));
        }
        for (k, &(_, slot)) in by_file.iter().enumerate() {
            let a = batch
                .column(k)
                .as_any()
                .downcast_ref::<arrow_array::Float32Array>()
                .ok_or_else(|| io::Error::other("converted matrix: a sample is not Float32"))?;
            let at = slot * n_probes + row;
            out[at..at + n].copy_from_slice(a.values());
        }
        row += n;
    }
    if row != n_probes {
        return Err(io::Error::other("converted matrix: fewer rows than probes"));
    }
    Ok(())
}

/// The record batches of the top-level columns `cols` (in file order).
fn projected(
    file: &File,
    cols: &[usize],
) -> io::Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let b =
        ParquetRecordBatchReaderBuilder::try_new(file.try_clone()?).map_err(io::Error::other)?;
    let mask = ProjectionMask::roots(b.parquet_schema(), cols.iter().copied());
    b.with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Float32Array;

    #[test]
    fn simple_matrix_lines_equal_full_parse() {
        let cells = [
            "0.123456",
            "NA",
            "-0.5",
            "1e-3",
            "12345678.5",
            "0.1234567890123",
            "7",
            ".5",
            "",
            "1.",
            "0.99999999",
            "12345678",
            "-12",
            "0.000001",
        ];
        let ns = 7;
        let mut text = String::from("ID_REF");
        for j in 0..ns {
            text.push_str(&format!(",s{j}"));
        }
        text.push('\n');
        let mut want: Vec<Vec<f32>> = vec![Vec::new(); ns];
        let mut ids = Vec::new();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..3000 {
            let id = format!("cg{i:08}");
            text.push_str(&id);
            ids.push(id);
            for col in want.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly the common 6-decimal form, sometimes anything else.
                let c = if x.is_multiple_of(4) {
                    cells[((x >> 8) % cells.len() as u64) as usize]
                } else {
                    cells[0]
                };
                text.push(',');
                text.push_str(c);
                col.push(if c.is_empty() || c == "NA" {
                    f32::NAN
                } else {
                    c.parse::<f64>().unwrap() as f32
                });
            }
            text.push_str(if i % 3 == 0 { "\r\n" } else { "\n" });
            if i % 500 == 7 {
                text.push('\n');
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("m.csv");
        std::fs::write(&csv, &text).unwrap();
        for block in [1, 1 << 20] {
            let opts = MatrixOptions {
                block_bytes: block,
                ..MatrixOptions::default()
            };
            let path = dir.path().join("m.parquet");
            let out = std::fs::File::create(&path).unwrap();
            convert_file_to_parquet(&csv, out, &opts).unwrap();
            let t = crate::table::read_parquet(&path).unwrap();
            assert_eq!(t.batch.num_rows(), 3000);
            let got_ids: Vec<Option<String>> = t.text_column(0);
            for (g, w) in got_ids.iter().zip(&ids) {
                assert_eq!(g.as_deref(), Some(w.as_str()));
            }
            for (j, w) in want.iter().enumerate() {
                let a = t
                    .batch
                    .column(j + 1)
                    .as_any()
                    .downcast_ref::<Float32Array>()
                    .unwrap();
                for (r, (g, w)) in a.values().iter().zip(w).enumerate() {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "row {r} column {j}: {g} != {w}"
                    );
                }
            }
        }
        // A short line deep in the input is an error naming its line.
        let bad = text.replacen("cg00002000,", "cg00002000,1\nx,", 1);
        std::fs::write(&csv, &bad).unwrap();
        let e = convert_file_to_parquet(&csv, Vec::new(), &MatrixOptions::default()).unwrap_err();
        let te = TableError::from_io(&e).unwrap();
        assert_eq!(te.row, Some(2000 + 2 + 4));
    }

    #[test]
    fn short_numbers_equal_fast_numbers() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let alphabet = b"0123456789.....-x";
        for _ in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 9) as usize;
            let mut b: Vec<u8> = (0..len)
                .map(|k| alphabet[((x >> (4 + 5 * k)) % alphabet.len() as u64) as usize])
                .collect();
            b.extend_from_slice(b",12345678");
            let fast = fast_number(&b, 0)
                .filter(|&(_, e)| e == len)
                .map(|(v, _)| v);
            let short = short_number(&b, 0, len);
            if let Some(v) = short {
                assert_eq!(Some(v), fast, "{:?}", String::from_utf8_lossy(&b));
            } else {
                assert!(
                    fast.is_none() || b[0] == b'-',
                    "{:?}",
                    String::from_utf8_lossy(&b)
                );
            }
        }
        for s in [
            "0.123456", "1", "1.", ".5", "12345678", "0.999999", "1.000001",
        ] {
            let mut b = s.as_bytes().to_vec();
            b.extend_from_slice(b"\n1234567");
            assert_eq!(
                short_number(&b, 0, s.len()),
                Some(s.parse::<f64>().unwrap() as f32),
                "{s}"
            );
        }
        assert_eq!(short_number(b".,123456789", 0, 1), None);
        assert_eq!(short_number(b"1.2.3,123456789", 0, 5), None);
        assert_eq!(short_number(b"123456789,12345678", 0, 9), None);
    }

    #[test]
    fn fast_cells_equal_full_parse() {
        for s in [
            "0.123456",
            "1",
            "0",
            "-0.5",
            "12.75",
            ".5",
            "1.",
            "0.999999",
            "123456789012345",
        ] {
            let (v, e) = fast_cell(s.as_bytes(), 0, b',').unwrap();
            assert_eq!(e, s.len());
            assert_eq!(v, s.parse::<f64>().unwrap() as f32, "{s}");
        }
        for s in [
            "NA",
            "",
            "-",
            ".",
            "1e5",
            "0.5x",
            "1234567890123456",
            " 1",
            "123456789012345678901234567890.1234567",
        ] {
            assert!(fast_cell(s.as_bytes(), 0, b',').is_none(), "{s}");
        }
        assert_eq!(fast_cell(b"0.25,1", 0, b','), Some((0.25, 4)));
        // Random digit strings of every length: the fast value is the f64 parse rounded to f32.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 15) as usize + 1;
            let frac = ((x >> 8) as usize) % (digits + 1);
            let m = (x >> 16) % 10u64.pow(digits as u32);
            let t = format!("{m:0digits$}");
            let s = format!("{}.{},", &t[..digits - frac], &t[digits - frac..]);
            let (v, _) = fast_cell(s.as_bytes(), 0, b',').unwrap();
            assert_eq!(v, s[..s.len() - 1].parse::<f64>().unwrap() as f32, "{s}");
        }
        assert_eq!(fast_cell(b"0.250000,0.5", 0, b','), Some((0.25f32, 8)));
        assert_eq!(
            fast_cell(b"0.1234567,xyz", 0, b','),
            Some((0.1234567f32, 9))
        );
        assert_eq!(
            fast_cell(b"0.123456\t0.5", 0, b'\t'),
            Some((0.123456f32, 8))
        );
        assert!(fast_cell(b"0.123456;0.5", 0, b',').is_none());
        assert!(fast_cell(b"0.12345678901234567,1", 0, b',').is_none());
        // 8 decimals, the tightest case of the multiplication.
        for _ in 0..500_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = format!("0.{:08}", x % 100_000_000);
            let (v, _) = fast_cell(s.as_bytes(), 0, b',').unwrap();
            assert_eq!(v, s.parse::<f64>().unwrap() as f32, "{s}");
        }
        // Every 6-decimal value in [0, 1) equals the standard parse.
        for k in (0..1_000_000u32).step_by(7) {
            let s = format!("0.{k:06},0.5");
            let (v, e) = fast_cell(s.as_bytes(), 0, b',').unwrap();
            assert_eq!((v, e), (s[..8].parse::<f64>().unwrap() as f32, 8), "{s}");
        }
    }

    #[test]
    fn row_groups_blocks_and_pieces() {
        let mut text = String::from("ID_REF,a,Unnamed: 2,b\n");
        for i in 0..5000 {
            text.push_str(&format!("cg{i:08},{}.5,x,{}\r\n", i % 7, i));
            if i % 100 == 0 {
                text.push('\n');
            }
        }
        let opts = MatrixOptions {
            rows_per_group: 777,
            block_bytes: 1,
            ..MatrixOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.parquet");
        let out = std::fs::File::create(&path).unwrap();
        let s = convert_to_parquet_with(text.as_bytes(), "m.csv", out, &opts).unwrap();
        assert_eq!(s.n_probes, 5000);
        assert_eq!(s.sample_ids, ["a", "b"]);
        let t = crate::table::read_parquet(&path).unwrap();
        assert_eq!(t.batch.num_rows(), 5000);
        assert_eq!(t.batch.num_columns(), 3);
        let b = t
            .batch
            .column(2)
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        assert!(b.values().iter().enumerate().all(|(i, v)| *v == i as f32));
        let a = t
            .batch
            .column(1)
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        assert_eq!(a.value(4999), 1.5);
        let ids = t.text_column(0);
        assert_eq!(ids[4321].as_deref(), Some("cg00004321"));
        // The memory-mapped file path gives the same table.
        let csv = dir.path().join("m.csv");
        std::fs::write(&csv, &text).unwrap();
        let path2 = dir.path().join("m2.parquet");
        let out = std::fs::File::create(&path2).unwrap();
        let s2 = convert_file_to_parquet(&csv, out, &opts).unwrap();
        assert_eq!(s2, s);
        assert_eq!(crate::table::read_parquet(&path2).unwrap().batch, t.batch);
        // An error deep in the input names its line (blank lines counted).
        let bad = text.replacen("cg00004321,2.5", "cg00004321,2.5z", 1);
        let e = convert_to_parquet_with(bad.as_bytes(), "m.csv", Vec::new(), &opts).unwrap_err();
        let te = TableError::from_io(&e).unwrap();
        assert_eq!(te.row, Some(4321 + 2 + 44));
        assert_eq!(te.column.as_deref(), Some("a"));
        std::fs::write(&csv, &bad).unwrap();
        let e = convert_file_to_parquet(&csv, Vec::new(), &opts).unwrap_err();
        let te = TableError::from_io(&e).unwrap();
        assert_eq!(te.row, Some(4321 + 2 + 44));
    }
}
