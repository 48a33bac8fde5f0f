//! The volume-at-a-time reader.
//!
//! # Memory and axis-order contract
//!
//! NIfTI data are stored in Fortran order: `x` varies fastest, then `y`, `z`, `t`, ... A
//! *volume* is one 3-D frame: `dim[1] * dim[2] * dim[3]` voxels (missing axes count as 1), and
//! an image has `dim[4] * ... * dim[7]` volumes stored one after another. [`Reader`] reads one
//! volume per call into a caller-owned buffer, in file order, so a 4-D run is never held in
//! memory by the reader: it keeps one raw volume buffer and the decompressor's window.
//!
//! Within a volume, value `i + nx * (j + ny * k)` is voxel `(i, j, k)`. Multi-component datatypes
//! (complex, RGB, RGBA) give `components()` consecutive values per voxel.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bomdata_format_core::budget;
use bomdata_format_core::compression::{self, Compression};

use crate::decode::{Element, decode};
use crate::error::DecodeError;
use crate::header::{DataType, Extension, Header};
use crate::io::whole;

/// The largest factor by which a deflate stream can expand (RFC 1951 stored/fixed blocks:
/// at most 258 bytes per 2 bits, ~1032:1); a gzip file of `n` bytes decodes to at most
/// `n * 1032` bytes plus slack.
pub const GZIP_MAX_RATIO: u64 = 1032;

/// The most bytes a gzip stream of `compressed_len` bytes can decode to.
///
/// ```
/// assert_eq!(bomdata_nifti::io::reader::gzip_limit(1000), 1000 * 1032 + 65536);
/// ```
pub fn gzip_limit(compressed_len: u64) -> u64 {
    compressed_len
        .saturating_mul(GZIP_MAX_RATIO)
        .saturating_add(1 << 16)
}

/// Reads a NIfTI image one volume at a time. See the [module docs](self) for the layout.
pub struct Reader<R> {
    inner: R,
    header: Header,
    datatype: DataType,
    extensions: Vec<Extension>,
    gzipped: bool,
    next: u64,
    raw: Vec<u8>,
    /// A single file opened by path: read whole by `read_c_order_f32_le` when it can be.
    whole: Option<PathBuf>,
}

fn map_eof(e: io::Error, got: usize, need: usize) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        DecodeError::ShortHeader { got, need }.into()
    } else {
        e
    }
}

fn read_header<R: Read>(r: &mut R) -> io::Result<Header> {
    let mut buf = vec![0u8; 540];
    r.read_exact(&mut buf[..4]).map_err(|e| map_eof(e, 0, 4))?;
    let (version, _) = crate::header::detect_version(&buf[..4])?;
    let n = version.header_len();
    read_full(r, &mut buf[4..n]).and_then(|got| {
        if got < n - 4 {
            Err(DecodeError::ShortHeader {
                got: got + 4,
                need: n,
            }
            .into())
        } else {
            Ok(())
        }
    })?;
    Ok(Header::parse(&buf[..n])?)
}

/// Reads until `buf` is full or the stream ends; returns bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Parses extensions from `r`, which holds `region` bytes after the header (`None`: to the end).
/// `start` is the file offset of the region (for messages).
fn read_extensions<R: Read>(
    r: &mut R,
    header: &Header,
    region: u64,
    start: u64,
) -> io::Result<(Vec<Extension>, u64)> {
    let mut used = 0u64;
    let mut exts = Vec::new();
    if region < 4 {
        return Ok((exts, used));
    }
    let mut extender = [0u8; 4];
    let got = read_full(r, &mut extender)?;
    used += got as u64;
    if got < 4 || extender[0] == 0 {
        return Ok((exts, used));
    }
    let big = header.byte_order == crate::header::ByteOrder::Big;
    loop {
        let remaining = region - used;
        if remaining < 8 {
            break;
        }
        let mut pair = [0u8; 8];
        let got = read_full(r, &mut pair)?;
        if got == 0 {
            break;
        }
        let offset = start + used;
        let int = |b: [u8; 4]| {
            if big {
                i32::from_be_bytes(b)
            } else {
                i32::from_le_bytes(b)
            }
        };
        let esize = int([pair[0], pair[1], pair[2], pair[3]]) as i64;
        let code = int([pair[4], pair[5], pair[6], pair[7]]);
        let index = exts.len();
        let err = |reason| DecodeError::Extension {
            index,
            offset,
            esize,
            reason,
        };
        if got < 8 {
            return Err(err("is cut off by the end of the header").into());
        }
        if esize < 8 {
            return Err(err("is less than 8").into());
        }
        if esize as u64 > remaining {
            return Err(err("runs past the start of the data").into());
        }
        let mut content = Vec::new();
        r.by_ref()
            .take(esize as u64 - 8)
            .read_to_end(&mut content)?;
        if (content.len() as u64) < esize as u64 - 8 {
            return Err(err("is cut off by the end of the file").into());
        }
        used += esize as u64;
        exts.push(Extension {
            code,
            size: esize,
            content,
        });
    }
    Ok((exts, used))
}

/// Decompression failures before the data (deflate errors surface as `InvalidInput` or
/// `UnexpectedEof`) become `InvalidData`.
fn corrupt(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            DecodeError::Corrupt(e.to_string()).into()
        }
        _ => e,
    }
}

fn skip<R: Read>(r: &mut R, n: u64) -> io::Result<u64> {
    io::copy(&mut r.by_ref().take(n), &mut io::sink())
}

fn check_data(header: &Header, vox_offset: u64, limit: u64) -> Result<(), DecodeError> {
    if vox_offset > limit {
        return Err(DecodeError::VoxOffsetPastEnd {
            vox_offset,
            len: limit,
        });
    }
    let need = header
        .data_bytes()
        .ok_or_else(|| DecodeError::SizeOverflow(header.dim[1..=header.ndim()].to_vec()))?;
    if need > limit - vox_offset {
        return Err(DecodeError::DataTooLarge {
            need,
            vox_offset,
            have: limit - vox_offset,
        });
    }
    Ok(())
}

fn vox_offset(header: &Header) -> Result<u64, DecodeError> {
    let v = header.vox_offset;
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9.0e15 {
        return Err(DecodeError::VoxOffset(v));
    }
    Ok(v as u64)
}

impl Reader<Box<dyn Read + Send>> {
    /// Opens a `.nii`, `.nii.gz`, or one file of a `.hdr`/`.img` pair (each optionally gzipped).
    ///
    /// Gzip is detected from the magic bytes, so a gzipped file without `.gz` also opens.
    /// Header values are checked against the file size before anything is allocated from them.
    ///
    /// ```no_run
    /// let mut r = bomdata_nifti::Reader::open(std::path::Path::new("bold.nii.gz"))?;
    /// let mut vol = Vec::new();
    /// while r.read_volume_f32(&mut vol)? {
    ///     // one 3-D frame, x fastest
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: &Path) -> io::Result<Self> {
        if let Some((hdr, img)) = pair_paths(path)? {
            let hlen = std::fs::metadata(&hdr)?.len();
            let (h, hc) = compression::open(&hdr)?;
            let hlimit = if hc == Compression::None {
                hlen
            } else {
                gzip_limit(hlen)
            };
            let ilen = std::fs::metadata(&img)?.len();
            let (i, ic) = compression::open(&img)?;
            let gz = ic != Compression::None;
            let ilimit = if gz { gzip_limit(ilen) } else { ilen };
            Reader::from_pair(h, hlimit, Box::new(i) as Box<dyn Read + Send>, ilimit, gz)
        } else {
            let len = std::fs::metadata(path)?.len();
            let (r, c) = compression::open(path)?;
            let gz = c != Compression::None;
            let limit = if gz { gzip_limit(len) } else { len };
            let mut reader = Reader::from_single(Box::new(r) as Box<dyn Read + Send>, limit, gz)?;
            reader.whole = Some(path.to_path_buf());
            Ok(reader)
        }
    }
}

/// For a `.hdr`/`.img` path (optionally `.gz`), the existing header and image paths.
pub(crate) fn pair_paths(path: &Path) -> io::Result<Option<(PathBuf, PathBuf)>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let stem_len = |suffix: &str| name.len() - suffix.len();
    let (stem, other) = if let Some(s) = [".hdr.gz", ".hdr"].iter().find(|s| name.ends_with(*s)) {
        (stem_len(s), ["img", "img.gz", "IMG"])
    } else if let Some(s) = [".img.gz", ".img"].iter().find(|s| name.ends_with(*s)) {
        (stem_len(s), ["hdr", "hdr.gz", "HDR"])
    } else {
        return Ok(None);
    };
    let full = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = &full[..stem.min(full.len())];
    for ext in other {
        let cand = path.with_file_name(format!("{base}.{ext}"));
        if cand.is_file() {
            return Ok(Some(if other[0] == "img" {
                (path.to_path_buf(), cand)
            } else {
                (cand, path.to_path_buf())
            }));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "the other file of the .hdr/.img pair ({base}.{}) is missing",
            other[0]
        ),
    ))
}

impl<R: Read> Reader<R> {
    /// Reads the header and extensions of a single-file image (`.nii`) from `inner`, an already
    /// decompressed stream, and positions it at `vox_offset`.
    ///
    /// `limit` is the most bytes `inner` can hold: the file size, or [`gzip_limit`] of the
    /// compressed size. A header whose `vox_offset` or data size exceeds it is refused.
    ///
    /// ```
    /// use bomdata_nifti::{DataType, Reader, WriteOptions, Writer};
    /// let opts = WriteOptions::new(DataType::Uint8, &[2, 2, 1, 3]);
    /// let mut w = Writer::new(Vec::new(), &opts)?;
    /// w.write_values(&(0..12).map(f64::from).collect::<Vec<_>>())?;
    /// let bytes = w.finish()?;
    /// let mut r = Reader::from_single(&bytes[..], bytes.len() as u64, false)?;
    /// let mut v = Vec::new();
    /// r.read_volume_f64(&mut v)?;
    /// r.read_volume_f64(&mut v)?;
    /// assert_eq!(v, [4.0, 5.0, 6.0, 7.0]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_single(inner: R, limit: u64, gzipped: bool) -> io::Result<Self> {
        Self::single(inner, limit, gzipped).map_err(corrupt)
    }

    fn single(mut inner: R, limit: u64, gzipped: bool) -> io::Result<Self> {
        let header = read_header(&mut inner)?;
        let hlen = header.version.header_len() as u64;
        let off = vox_offset(&header)?;
        if off < hlen {
            return Err(DecodeError::VoxOffsetInHeader {
                vox_offset: off,
                min: hlen,
            }
            .into());
        }
        check_data(&header, off, limit)?;
        let (extensions, used) = read_extensions(&mut inner, &header, off - hlen, hlen)?;
        let rest = off - hlen - used;
        if skip(&mut inner, rest)? < rest {
            return Err(DecodeError::VoxOffsetPastEnd {
                vox_offset: off,
                len: hlen + used,
            }
            .into());
        }
        Self::finish_open(inner, header, extensions, gzipped)
    }

    /// Reads a `.hdr` stream (`hdr`, holding at most `hdr_limit` bytes) and positions `img`, the
    /// image stream (holding at most `img_limit` bytes), at `vox_offset`.
    pub fn from_pair<H: Read>(
        hdr: H,
        hdr_limit: u64,
        img: R,
        img_limit: u64,
        gzipped: bool,
    ) -> io::Result<Self> {
        Self::pair(hdr, hdr_limit, img, img_limit, gzipped).map_err(corrupt)
    }

    fn pair<H: Read>(
        mut hdr: H,
        hdr_limit: u64,
        mut img: R,
        img_limit: u64,
        gzipped: bool,
    ) -> io::Result<Self> {
        let header = read_header(&mut hdr)?;
        let hlen = header.version.header_len() as u64;
        let off = vox_offset(&header)?;
        check_data(&header, off, img_limit)?;
        let (extensions, _) =
            read_extensions(&mut hdr, &header, hdr_limit.saturating_sub(hlen), hlen)?;
        if skip(&mut img, off)? < off {
            return Err(DecodeError::VoxOffsetPastEnd {
                vox_offset: off,
                len: img_limit,
            }
            .into());
        }
        Self::finish_open(img, header, extensions, gzipped)
    }

    fn finish_open(
        inner: R,
        header: Header,
        extensions: Vec<Extension>,
        gzipped: bool,
    ) -> io::Result<Self> {
        let datatype = header.datatype()?;
        Ok(Reader {
            inner,
            header,
            datatype,
            extensions,
            gzipped,
            next: 0,
            raw: Vec::new(),
            whole: None,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The on-disk datatype.
    pub fn datatype(&self) -> DataType {
        self.datatype
    }

    /// The header extensions, in file order.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Whether the data stream was gzip-compressed.
    pub fn gzipped(&self) -> bool {
        self.gzipped
    }

    /// Voxels per volume.
    pub fn volume_voxels(&self) -> u64 {
        self.header.volume_voxels()
    }

    /// Values per volume (voxels × components).
    pub fn volume_len(&self) -> usize {
        self.header.volume_voxels() as usize * self.datatype.components()
    }

    /// Number of volumes.
    pub fn n_volumes(&self) -> u64 {
        self.header.n_volumes()
    }

    /// Index of the next volume to be read.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Reads the next volume's raw bytes (file byte order) into `buf`, replacing its contents.
    /// Returns `false` (and leaves `buf` empty) when every volume has been read.
    pub fn read_volume_raw(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        if self.next >= self.n_volumes() {
            return Ok(false);
        }
        let n = self.volume_bytes();
        budget::check(n as u64, &self.volume_what())?;
        let volume = self.next;
        let n_volumes = self.n_volumes();
        // Grown as the data arrives (doubling, from 16 MiB): a header may declare more than the
        // stream holds, and a short stream then costs what it held, not what was declared.
        let mut got = 0;
        while got < n {
            let step = (n - got).min(got.max(16 << 20));
            buf.reserve_exact(step);
            buf.resize(got + step, 0);
            self.inner
                .read_exact(&mut buf[got..])
                .map_err(|e| match e.kind() {
                    io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::InvalidData => DecodeError::Truncated {
                        volume,
                        n_volumes,
                        cause: e.to_string(),
                    }
                    .into(),
                    _ => e,
                })?;
            got += step;
        }
        self.next += 1;
        Ok(true)
    }

    /// Bytes of one raw volume.
    fn volume_bytes(&self) -> usize {
        self.header.volume_voxels() as usize * self.datatype.size()
    }

    /// `a 1024×1024×768 uint8 volume`, for budget errors.
    fn volume_what(&self) -> String {
        let dims: Vec<String> = self
            .header
            .shape()
            .iter()
            .take(3)
            .map(u64::to_string)
            .collect();
        format!("a {} {} volume", dims.join("×"), self.datatype.name())
    }

    /// Reads the next volume as scaled values of type `T` (see [`decode`]) into `out`,
    /// replacing its contents. Returns `false` when every volume has been read.
    pub fn read_volume<T: Element>(&mut self, out: &mut Vec<T>) -> io::Result<bool> {
        if self.next < self.n_volumes() {
            let need = (self.volume_bytes() as u64)
                .saturating_add((self.volume_len() as u64).saturating_mul(size_of::<T>() as u64));
            budget::check(need, &self.volume_what())?;
        }
        let mut raw = std::mem::take(&mut self.raw);
        let more = self.read_volume_raw(&mut raw);
        let result = more.inspect(|&more| {
            out.clear();
            if more {
                out.resize(self.volume_len(), T::default());
                decode(
                    self.datatype,
                    self.header.byte_order,
                    &raw,
                    self.header.scaling(),
                    out,
                );
            }
        });
        self.raw = raw;
        result
    }

    /// [`Reader::read_volume`] into float32 (scaled in float64, then rounded).
    pub fn read_volume_f32(&mut self, out: &mut Vec<f32>) -> io::Result<bool> {
        self.read_volume(out)
    }

    /// [`Reader::read_volume`] into float64.
    pub fn read_volume_f64(&mut self, out: &mut Vec<f64>) -> io::Result<bool> {
        self.read_volume(out)
    }

    /// Reads every remaining volume into one Fortran-order float32 array (x fastest), the same
    /// values as nibabel's `get_fdata().astype(float32)` flattened in `F` order.
    pub fn read_all_f32(&mut self) -> io::Result<Vec<f32>> {
        let left = self.n_volumes() - self.next;
        // Capacity capped: a gzip header may overstate the data until the stream proves it.
        let mut all = Vec::with_capacity((self.volume_len() * left as usize).min(1 << 26));
        let mut v = Vec::new();
        while self.read_volume_f32(&mut v)? {
            all.extend_from_slice(&v);
        }
        Ok(all)
    }

    /// Reads every remaining volume as float32 and stores it little-endian into `out` in **C
    /// order** of the shape `(x, y, z[, t, ...])` (NIfTI `dim[1..]`), the layout of a C-order
    /// `.npy` whose `np.load` equals nibabel's `get_fdata().astype(float32)`. `out` must hold
    /// exactly `4 ×` the number of values; memory used besides `out` is one volume.
    ///
    /// Only single-component datatypes are accepted (not complex or RGB).
    ///
    /// ```
    /// use bomdata_nifti::{DataType, Reader, WriteOptions, Writer};
    /// // A 2x1x1x3 image stored x-fastest: x0t0 x1t0 x0t1 x1t1 x0t2 x1t2.
    /// let mut w = Writer::new(Vec::new(), &WriteOptions::new(DataType::Uint8, &[2, 1, 1, 3]))?;
    /// w.write_values(&[0.0, 1.0, 10.0, 11.0, 20.0, 21.0])?;
    /// let bytes = w.finish()?;
    /// let mut r = Reader::from_single(&bytes[..], bytes.len() as u64, false)?;
    /// let mut out = vec![0u8; 24];
    /// r.read_c_order_f32_le(&mut out)?;
    /// let v: Vec<f32> = out.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    /// assert_eq!(v, [0.0, 10.0, 20.0, 1.0, 11.0, 21.0]); // C order of shape (2, 1, 1, 3)
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_c_order_f32_le(&mut self, out: &mut [u8]) -> io::Result<()> {
        if self.datatype.components() != 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} has several values per voxel; no scalar array",
                    self.datatype.name()
                ),
            ));
        }
        let shape = self.header.shape();
        let total: u64 = shape.iter().product();
        if out.len() as u64 != total * 4 || self.next != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "output length must be 4 bytes per value and no volume may have been read",
            ));
        }
        let d = |a: usize| shape.get(a).copied().unwrap_or(1) as usize;
        let (nx, ny, nz) = (d(0), d(1), d(2));
        let trailing: Vec<usize> = shape.iter().skip(3).map(|&s| s as usize).collect();
        let nvol: usize = trailing.iter().product();
        let vox = nx * ny * nz;
        if trailing.len() <= 1 && self.read_whole(out, (nx, ny, nz, nvol))? {
            return Ok(());
        }
        // Volume t is F-order over the trailing axes (axis 3 fastest); its C-order index has
        // axis 3 slowest.
        let c_index = |t: usize| {
            let (mut rest, mut tc, mut mult) = (t, 0usize, 1usize);
            let mut idx = [0usize; 4];
            for (a, &n) in trailing.iter().enumerate() {
                idx[a] = rest % n.max(1);
                rest /= n.max(1);
            }
            for a in (0..trailing.len()).rev() {
                tc += idx[a] * mult;
                mult *= trailing[a];
            }
            tc
        };
        // Volumes are scattered in blocks of up to 16 so that, for a 4-D run, each voxel's
        // time points land in one contiguous run of the output (one cache line) instead of 16
        // passes over the whole array. The block costs 16 volumes of memory.
        let b = nvol.clamp(1, 16);
        // Filled as volumes arrive (never sized from the header alone).
        let mut block: Vec<f32> = Vec::new();
        let mut vol: Vec<f32> = Vec::new();
        let mut tcs = Vec::with_capacity(b);
        let step = ny * nz * nvol;
        let mut t0 = 0usize;
        while t0 < nvol {
            let nb = b.min(nvol - t0);
            tcs.clear();
            block.clear();
            for k in 0..nb {
                if !self.read_volume_f32(&mut vol)? {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "volume missing",
                    ));
                }
                if vol.len() != vox {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "volume of the wrong length",
                    ));
                }
                block.extend_from_slice(&vol);
                tcs.push(c_index(t0 + k));
            }
            let mut i = 0;
            for z in 0..nz {
                for y in 0..ny {
                    let mut c = (y * nz + z) * nvol;
                    for _ in 0..nx {
                        for (k, &tc) in tcs.iter().enumerate() {
                            let o = 4 * (c + tc);
                            out[o..o + 4].copy_from_slice(&block[k * vox + i].to_le_bytes());
                        }
                        c += step;
                        i += 1;
                    }
                }
            }
            t0 += nb;
        }
        Ok(())
    }

    /// The fast path of [`Reader::read_c_order_f32_le`] for a single file opened by path (see
    /// `io/whole.rs`): `Ok(false)` when the file is to be streamed instead.
    fn read_whole(&mut self, out: &mut [u8], grid: whole::Grid) -> io::Result<bool> {
        let Some(path) = self.whole.take() else {
            return Ok(false);
        };
        let off = vox_offset(&self.header)?;
        let data = (self.volume_bytes() as u64).saturating_mul(self.n_volumes());
        let Some(w) = whole::load(&path, self.gzipped, off + data, out.len() as u64) else {
            return Ok(false);
        };
        let src = w.bytes().get(off as usize..).unwrap_or_default();
        whole::c_order(
            self.datatype,
            self.header.byte_order,
            self.header.scaling(),
            grid,
            src,
            out,
        );
        self.next = self.n_volumes();
        Ok(true)
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Opens a file and reads only its header and extensions (the data are not touched).
pub fn read_header_only(path: &Path) -> io::Result<(Header, Vec<Extension>)> {
    let r = Reader::open(path)?;
    Ok((r.header.clone(), r.extensions.clone()))
}
