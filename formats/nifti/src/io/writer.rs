//! A streaming writer of single-file images (`.nii`, `.nii.gz`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::header::{Affine, ByteOrder, DataType, Extension, Header, Version};

/// What to write: the header to use and the extensions to append to it.
///
/// `header.vox_offset` and `header.single_file` are set by the writer.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Header fields (datatype, dim, pixdim, transforms, scaling, text, version, byte order).
    pub header: Header,
    /// Extensions written after the header; each content is NUL-padded so `esize` is a
    /// multiple of 16.
    pub extensions: Vec<Extension>,
    /// gzip level (0–9) for [`Writer::create`] on a `.gz` path.
    pub gzip_level: u32,
}

impl WriteOptions {
    /// NIfTI-1, little-endian, unit voxels, no transforms, no scaling.
    pub fn new(datatype: DataType, shape: &[u64]) -> Self {
        WriteOptions {
            header: Header::new(datatype, shape),
            extensions: Vec::new(),
            gzip_level: 6,
        }
    }

    /// Sets the sform to `affine` (rows 0..3) with `sform_code` 2 ("aligned") and the voxel
    /// sizes `pixdim[1..=3]` to the affine's column norms.
    pub fn with_affine(mut self, affine: Affine) -> Self {
        let h = &mut self.header;
        h.srow.copy_from_slice(&affine[..3]);
        h.sform_code = 2;
        for (c, p) in h.pixdim[1..4].iter_mut().enumerate() {
            let n = affine[..3]
                .iter()
                .map(|row| row[c] * row[c])
                .sum::<f64>()
                .sqrt();
            *p = if n > 0.0 { n } else { 1.0 };
        }
        self
    }

    /// Sets `pixdim[1..]` from `zooms` (spatial sizes, then time step, ...).
    pub fn with_zooms(mut self, zooms: &[f64]) -> Self {
        for (p, z) in self.header.pixdim[1..].iter_mut().zip(zooms) {
            *p = *z;
        }
        self
    }

    /// Sets `xyzt_units` to millimetres and seconds.
    pub fn with_mm_sec(mut self) -> Self {
        self.header.xyzt_units = 2 | 8;
        self
    }

    /// Sets `scl_slope` and `scl_inter`.
    pub fn with_scaling(mut self, slope: f64, inter: f64) -> Self {
        self.header.scl_slope = slope;
        self.header.scl_inter = inter;
        self
    }

    /// Sets the version and byte order.
    pub fn with_format(mut self, version: Version, order: ByteOrder) -> Self {
        self.header.version = version;
        self.header.byte_order = order;
        self
    }

    /// Sets `descrip`.
    pub fn with_descrip(mut self, text: &str) -> Self {
        self.header.descrip = text.as_bytes().to_vec();
        self
    }
}

/// The file behind [`Writer::create`]: plain or gzip.
#[allow(clippy::large_enum_variant)] // one per open file; boxing buys nothing
pub enum FileSink {
    /// Uncompressed `.nii`.
    Plain(BufWriter<File>),
    /// `.nii.gz`.
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            FileSink::Plain(w) => w.write(buf),
            FileSink::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            FileSink::Plain(w) => w.flush(),
            FileSink::Gzip(w) => w.flush(),
        }
    }
}

impl FileSink {
    /// Finishes the gzip stream (if any) and flushes the file.
    pub fn close(self) -> io::Result<()> {
        match self {
            FileSink::Plain(mut w) => w.flush(),
            FileSink::Gzip(w) => w.finish()?.flush(),
        }
    }
}

/// Writes one single-file image: header, extensions, then the data in file (Fortran) order,
/// in as many calls as the caller likes.
pub struct Writer<W: Write> {
    inner: W,
    datatype: DataType,
    order: ByteOrder,
    expected: u64,
    written: u64,
    buf: Vec<u8>,
}

impl Writer<FileSink> {
    /// Creates `path`; gzip-compressed when it ends in `.gz`.
    ///
    /// ```no_run
    /// use bomdata_nifti::{DataType, WriteOptions, Writer};
    /// let opts = WriteOptions::new(DataType::Float32, &[2, 2, 2]);
    /// let mut w = Writer::create(std::path::Path::new("x.nii.gz"), &opts)?;
    /// w.write_values(&[0.0; 8])?;
    /// w.close()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create(path: &Path, opts: &WriteOptions) -> io::Result<Self> {
        let f = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let gz = path.to_string_lossy().to_lowercase().ends_with(".gz");
        let sink = if gz {
            FileSink::Gzip(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::new(opts.gzip_level.min(9)),
            ))
        } else {
            FileSink::Plain(f)
        };
        Writer::new(sink, opts)
    }

    /// [`Writer::finish`], then closes the file.
    pub fn close(self) -> io::Result<()> {
        self.finish()?.close()
    }
}

impl<W: Write> Writer<W> {
    /// Writes the header and extensions to `inner`.
    pub fn new(mut inner: W, opts: &WriteOptions) -> io::Result<Self> {
        let mut h = opts.header.clone();
        let datatype = h
            .datatype()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        h.datatype_code = datatype.code();
        h.bitpix = (datatype.size() * 8) as i32;
        h.single_file = true;
        let big = h.byte_order == ByteOrder::Big;
        let int = |v: i32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut ext_bytes = Vec::new();
        for e in &opts.extensions {
            let esize = (e.content.len() + 8).div_ceil(16) * 16;
            ext_bytes.extend_from_slice(&int(esize as i32));
            ext_bytes.extend_from_slice(&int(e.code));
            ext_bytes.extend_from_slice(&e.content);
            ext_bytes.resize(ext_bytes.len() + esize - 8 - e.content.len(), 0);
        }
        h.vox_offset = (h.version.header_len() + 4 + ext_bytes.len()) as f64;
        inner.write_all(&h.encode())?;
        let extender = [u8::from(!opts.extensions.is_empty()), 0, 0, 0];
        inner.write_all(&extender)?;
        inner.write_all(&ext_bytes)?;
        let expected = h
            .data_bytes()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "data size overflows"))?
            / datatype.size() as u64
            * datatype.components() as u64;
        Ok(Writer {
            inner,
            datatype,
            order: h.byte_order,
            expected,
            written: 0,
            buf: Vec::new(),
        })
    }

    /// Writes stored (unscaled) values in file order, one per component. Integers are rounded
    /// and saturated to their type's range.
    pub fn write_values(&mut self, values: &[f64]) -> io::Result<()> {
        if self.written + values.len() as u64 > self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more values than the header's dim declares",
            ));
        }
        self.buf.clear();
        let be = self.order == ByteOrder::Big;
        macro_rules! put {
            ($t:ty, $conv:expr) => {
                for &v in values {
                    let x: $t = $conv(v);
                    self.buf
                        .extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
                }
            };
        }
        match self.datatype {
            DataType::Uint8 | DataType::Rgb24 | DataType::Rgba32 => {
                put!(u8, |v: f64| v.round() as u8)
            }
            DataType::Int8 => put!(i8, |v: f64| v.round() as i8),
            DataType::Int16 => put!(i16, |v: f64| v.round() as i16),
            DataType::Uint16 => put!(u16, |v: f64| v.round() as u16),
            DataType::Int32 => put!(i32, |v: f64| v.round() as i32),
            DataType::Uint32 => put!(u32, |v: f64| v.round() as u32),
            DataType::Int64 => put!(i64, |v: f64| v.round() as i64),
            DataType::Uint64 => put!(u64, |v: f64| v.round() as u64),
            DataType::Float32 | DataType::Complex64 => put!(f32, |v: f64| v as f32),
            DataType::Float64 | DataType::Complex128 => put!(f64, |v: f64| v),
            DataType::Float128 | DataType::Complex256 => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "float128 is not written",
                ));
            }
        }
        self.inner.write_all(&self.buf)?;
        self.written += values.len() as u64;
        Ok(())
    }

    /// Writes float32 values (a convenience for [`Writer::write_values`]).
    pub fn write_f32(&mut self, values: &[f32]) -> io::Result<()> {
        for chunk in values.chunks(1 << 16) {
            let v: Vec<f64> = chunk.iter().map(|&x| x as f64).collect();
            self.write_values(&v)?;
        }
        Ok(())
    }

    /// Writes raw data bytes (already in the datatype and byte order of the header).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let per = (self.datatype.size() / self.datatype.components()) as u64;
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64 / per;
        Ok(())
    }

    /// Checks that every declared value was written and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.written != self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "wrote {} values but dim declares {}",
                    self.written, self.expected
                ),
            ));
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}
