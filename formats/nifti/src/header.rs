//! The NIfTI-1 (348-byte) and NIfTI-2 (540-byte) header, its datatypes, affines and scaling.
//!
//! Field offsets follow `nifti1.h` and `nifti2.h`. Numeric fields are widened (`f32` → `f64`,
//! `i16` → `i64`) so one [`Header`] type serves both versions; text fields keep their raw bytes.

use crate::error::DecodeError;

/// Length of the NIfTI-1 header.
pub const NIFTI1_HEADER_LEN: usize = 348;
/// Length of the NIfTI-2 header.
pub const NIFTI2_HEADER_LEN: usize = 540;

/// NIfTI format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// NIfTI-1: 348-byte header, 16-bit dims, 32-bit floats.
    One,
    /// NIfTI-2: 540-byte header, 64-bit dims and floats.
    Two,
}

impl Version {
    /// The header length of this version.
    pub fn header_len(self) -> usize {
        match self {
            Version::One => NIFTI1_HEADER_LEN,
            Version::Two => NIFTI2_HEADER_LEN,
        }
    }

    /// 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            Version::One => 1,
            Version::Two => 2,
        }
    }
}

/// Byte order of the header and data, detected from `sizeof_hdr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
}

impl ByteOrder {
    /// `"little"` or `"big"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ByteOrder::Little => "little",
            ByteOrder::Big => "big",
        }
    }
}

/// A NIfTI datatype (the `datatype` header field).
///
/// `Float128` and `Complex256` are named but not decoded: a 16-byte `long double` is x87
/// extended precision on x86 and IEEE binary128 on other platforms, and the file does not say
/// which ([`DataType::is_decodable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    /// `DT_UINT8` (2).
    Uint8,
    /// `DT_INT16` (4).
    Int16,
    /// `DT_INT32` (8).
    Int32,
    /// `DT_FLOAT32` (16).
    Float32,
    /// `DT_COMPLEX64` (32): two float32.
    Complex64,
    /// `DT_FLOAT64` (64).
    Float64,
    /// `DT_RGB24` (128): three uint8.
    Rgb24,
    /// `DT_INT8` (256).
    Int8,
    /// `DT_UINT16` (512).
    Uint16,
    /// `DT_UINT32` (768).
    Uint32,
    /// `DT_INT64` (1024).
    Int64,
    /// `DT_UINT64` (1280).
    Uint64,
    /// `DT_FLOAT128` (1536).
    Float128,
    /// `DT_COMPLEX128` (1792): two float64.
    Complex128,
    /// `DT_COMPLEX256` (2048): two float128.
    Complex256,
    /// `DT_RGBA32` (2304): four uint8.
    Rgba32,
}

impl DataType {
    /// Every datatype, in code order.
    pub const ALL: [DataType; 16] = [
        DataType::Uint8,
        DataType::Int16,
        DataType::Int32,
        DataType::Float32,
        DataType::Complex64,
        DataType::Float64,
        DataType::Rgb24,
        DataType::Int8,
        DataType::Uint16,
        DataType::Uint32,
        DataType::Int64,
        DataType::Uint64,
        DataType::Float128,
        DataType::Complex128,
        DataType::Complex256,
        DataType::Rgba32,
    ];

    /// The datatype of a header code, `None` when unknown (including `DT_BINARY`).
    ///
    /// ```
    /// use bomdata_nifti::DataType;
    /// assert_eq!(DataType::from_code(4), Some(DataType::Int16));
    /// assert_eq!(DataType::from_code(3), None);
    /// ```
    pub fn from_code(code: i32) -> Option<Self> {
        DataType::ALL.into_iter().find(|d| d.code() == code)
    }

    /// The header code.
    pub fn code(self) -> i32 {
        match self {
            DataType::Uint8 => 2,
            DataType::Int16 => 4,
            DataType::Int32 => 8,
            DataType::Float32 => 16,
            DataType::Complex64 => 32,
            DataType::Float64 => 64,
            DataType::Rgb24 => 128,
            DataType::Int8 => 256,
            DataType::Uint16 => 512,
            DataType::Uint32 => 768,
            DataType::Int64 => 1024,
            DataType::Uint64 => 1280,
            DataType::Float128 => 1536,
            DataType::Complex128 => 1792,
            DataType::Complex256 => 2048,
            DataType::Rgba32 => 2304,
        }
    }

    /// The probe name (`"int16"`, `"rgb24"`, ...), without byte order.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Uint8 => "uint8",
            DataType::Int16 => "int16",
            DataType::Int32 => "int32",
            DataType::Float32 => "float32",
            DataType::Complex64 => "complex64",
            DataType::Float64 => "float64",
            DataType::Rgb24 => "rgb24",
            DataType::Int8 => "int8",
            DataType::Uint16 => "uint16",
            DataType::Uint32 => "uint32",
            DataType::Int64 => "int64",
            DataType::Uint64 => "uint64",
            DataType::Float128 => "float128",
            DataType::Complex128 => "complex128",
            DataType::Complex256 => "complex256",
            DataType::Rgba32 => "rgba32",
        }
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            DataType::Uint8 | DataType::Int8 => 1,
            DataType::Int16 | DataType::Uint16 => 2,
            DataType::Rgb24 => 3,
            DataType::Int32 | DataType::Uint32 | DataType::Float32 | DataType::Rgba32 => 4,
            DataType::Int64 | DataType::Uint64 | DataType::Float64 | DataType::Complex64 => 8,
            DataType::Float128 | DataType::Complex128 => 16,
            DataType::Complex256 => 32,
        }
    }

    /// Values per voxel: 2 for complex (real, imaginary), 3 for RGB, 4 for RGBA, else 1.
    pub fn components(self) -> usize {
        match self {
            DataType::Complex64 | DataType::Complex128 | DataType::Complex256 => 2,
            DataType::Rgb24 => 3,
            DataType::Rgba32 => 4,
            _ => 1,
        }
    }

    /// Whether the reader decodes this type (all but `Float128` and `Complex256`).
    pub fn is_decodable(self) -> bool {
        !matches!(self, DataType::Float128 | DataType::Complex256)
    }

    /// Whether `scl_slope`/`scl_inter` apply (everything but RGB/RGBA, per `nifti1.h`).
    pub fn is_scalable(self) -> bool {
        !matches!(self, DataType::Rgb24 | DataType::Rgba32)
    }
}

/// One header extension (`esize`, `ecode`, content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// `ecode`: what the content is (6 = comment, 4 = AFNI, 2 = DICOM, ...).
    pub code: i32,
    /// `esize` as stored: the content length plus the 8-byte `esize`/`ecode` pair.
    pub size: i64,
    /// The content bytes (`esize - 8` of them).
    pub content: Vec<u8>,
}

/// A decoded header, NIfTI-1 or NIfTI-2.
///
/// Fields hold the stored values (widened), except that [`Header::parse`] applies nibabel's
/// load-time fixes that change meaning: zero `pixdim[1..=3]` become 1, negative ones their
/// absolute value, and a `qform_code`/`sform_code` outside 0..=5 becomes 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Format version.
    pub version: Version,
    /// Byte order of the header and data.
    pub byte_order: ByteOrder,
    /// `true` for a single file (`n+1`/`n+2`), `false` for a `.hdr`/`.img` pair (`ni1`/`ni2`).
    pub single_file: bool,
    /// `dim_info`: frequency/phase/slice axes.
    pub dim_info: u8,
    /// `dim[0..8]`: rank, then the size of each axis.
    pub dim: [i64; 8],
    /// `intent_p1..3`.
    pub intent_p: [f64; 3],
    /// `intent_code`.
    pub intent_code: i32,
    /// `datatype` code as stored.
    pub datatype_code: i32,
    /// `bitpix`.
    pub bitpix: i32,
    /// `slice_start`.
    pub slice_start: i64,
    /// `pixdim[0..8]`: qfac, then voxel sizes / step of each axis.
    pub pixdim: [f64; 8],
    /// `vox_offset`: byte offset of the data in the `.nii` (or `.img`) file.
    pub vox_offset: f64,
    /// `scl_slope` as stored.
    pub scl_slope: f64,
    /// `scl_inter` as stored.
    pub scl_inter: f64,
    /// `slice_end`.
    pub slice_end: i64,
    /// `slice_code`.
    pub slice_code: i32,
    /// `xyzt_units`: spatial unit in bits 0..2, temporal unit in bits 3..5.
    pub xyzt_units: i32,
    /// `cal_max`.
    pub cal_max: f64,
    /// `cal_min`.
    pub cal_min: f64,
    /// `slice_duration`.
    pub slice_duration: f64,
    /// `toffset`.
    pub toffset: f64,
    /// `descrip`: 80 raw bytes.
    pub descrip: Vec<u8>,
    /// `aux_file`: 24 raw bytes.
    pub aux_file: Vec<u8>,
    /// `qform_code`.
    pub qform_code: i32,
    /// `sform_code`.
    pub sform_code: i32,
    /// `quatern_b`, `quatern_c`, `quatern_d`.
    pub quatern: [f64; 3],
    /// `qoffset_x`, `qoffset_y`, `qoffset_z`.
    pub qoffset: [f64; 3],
    /// `srow_x`, `srow_y`, `srow_z`.
    pub srow: [[f64; 4]; 3],
    /// `intent_name`: 16 raw bytes.
    pub intent_name: Vec<u8>,
}

/// A 4×4 affine, row-major: `affine[row][col]`, mapping (i, j, k, 1) to (x, y, z, 1).
pub type Affine = [[f64; 4]; 4];

/// Decodes header text bytes: up to the first NUL, Latin-1.
///
/// ```
/// assert_eq!(bomdata_nifti::header::text(b"FSL3.3\0 v2.25\0\0"), "FSL3.3");
/// ```
pub fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end].iter().map(|&b| b as char).collect()
}

struct Fields<'a> {
    b: &'a [u8],
    big: bool,
}

impl Fields<'_> {
    fn arr<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[at..at + N]);
        a
    }
    fn i16(&self, at: usize) -> i64 {
        let a = self.arr::<2>(at);
        (if self.big {
            i16::from_be_bytes(a)
        } else {
            i16::from_le_bytes(a)
        }) as i64
    }
    fn i32(&self, at: usize) -> i64 {
        let a = self.arr::<4>(at);
        (if self.big {
            i32::from_be_bytes(a)
        } else {
            i32::from_le_bytes(a)
        }) as i64
    }
    fn i64(&self, at: usize) -> i64 {
        let a = self.arr::<8>(at);
        if self.big {
            i64::from_be_bytes(a)
        } else {
            i64::from_le_bytes(a)
        }
    }
    fn f32(&self, at: usize) -> f64 {
        let a = self.arr::<4>(at);
        (if self.big {
            f32::from_be_bytes(a)
        } else {
            f32::from_le_bytes(a)
        }) as f64
    }
    fn f64(&self, at: usize) -> f64 {
        let a = self.arr::<8>(at);
        if self.big {
            f64::from_be_bytes(a)
        } else {
            f64::from_le_bytes(a)
        }
    }
}

/// Detects version and byte order from the first four bytes (`sizeof_hdr`).
///
/// ```
/// use bomdata_nifti::header::{detect_version, ByteOrder, Version};
/// assert_eq!(detect_version(&348i32.to_be_bytes()).unwrap(), (Version::One, ByteOrder::Big));
/// assert!(detect_version(&[0, 0, 0, 0]).is_err());
/// ```
pub fn detect_version(head: &[u8]) -> Result<(Version, ByteOrder), DecodeError> {
    if head.len() < 4 {
        return Err(DecodeError::ShortHeader {
            got: head.len(),
            need: 4,
        });
    }
    let a = [head[0], head[1], head[2], head[3]];
    let le = i32::from_le_bytes(a);
    let be = i32::from_be_bytes(a);
    match (le, be) {
        (348, _) => Ok((Version::One, ByteOrder::Little)),
        (540, _) => Ok((Version::Two, ByteOrder::Little)),
        (_, 348) => Ok((Version::One, ByteOrder::Big)),
        (_, 540) => Ok((Version::Two, ByteOrder::Big)),
        _ => Err(DecodeError::SizeofHdr(le)),
    }
}

fn fix_xform_code(code: i64) -> i32 {
    // nibabel resets unrecognised codes to 0 ("unknown") when it loads a header.
    if (0..=5).contains(&code) {
        code as i32
    } else {
        0
    }
}

impl Header {
    /// Parses a header from its first 348 (NIfTI-1) or 540 (NIfTI-2) bytes.
    ///
    /// Checks `sizeof_hdr`, the magic, `dim` and the datatype; the data size and `vox_offset`
    /// are checked against the file by the reader.
    ///
    /// ```
    /// use bomdata_nifti::{DataType, Header};
    /// let h = Header::new(DataType::Int16, &[4, 5, 6]);
    /// let bytes = h.encode();
    /// let back = Header::parse(&bytes).unwrap();
    /// assert_eq!(back.shape(), vec![4, 5, 6]);
    /// assert_eq!(back.datatype().unwrap(), DataType::Int16);
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Header, DecodeError> {
        let (version, byte_order) = detect_version(bytes)?;
        let need = version.header_len();
        if bytes.len() < need {
            return Err(DecodeError::ShortHeader {
                got: bytes.len(),
                need,
            });
        }
        let f = Fields {
            b: bytes,
            big: byte_order == ByteOrder::Big,
        };
        let h = match version {
            Version::One => {
                let magic = &bytes[344..348];
                let single_file = match magic {
                    b"n+1\0" => true,
                    b"ni1\0" => false,
                    _ => return Err(DecodeError::Magic(text(magic))),
                };
                let mut dim = [0i64; 8];
                let mut pixdim = [0f64; 8];
                for i in 0..8 {
                    dim[i] = f.i16(40 + 2 * i);
                    pixdim[i] = f.f32(76 + 4 * i);
                }
                Header {
                    version,
                    byte_order,
                    single_file,
                    dim_info: bytes[39],
                    dim,
                    intent_p: [f.f32(56), f.f32(60), f.f32(64)],
                    intent_code: f.i16(68) as i32,
                    datatype_code: f.i16(70) as i32,
                    bitpix: f.i16(72) as i32,
                    slice_start: f.i16(74),
                    pixdim,
                    vox_offset: f.f32(108),
                    scl_slope: f.f32(112),
                    scl_inter: f.f32(116),
                    slice_end: f.i16(120),
                    slice_code: bytes[122] as i32,
                    xyzt_units: bytes[123] as i32,
                    cal_max: f.f32(124),
                    cal_min: f.f32(128),
                    slice_duration: f.f32(132),
                    toffset: f.f32(136),
                    descrip: bytes[148..228].to_vec(),
                    aux_file: bytes[228..252].to_vec(),
                    qform_code: fix_xform_code(f.i16(252)),
                    sform_code: fix_xform_code(f.i16(254)),
                    quatern: [f.f32(256), f.f32(260), f.f32(264)],
                    qoffset: [f.f32(268), f.f32(272), f.f32(276)],
                    srow: [0, 1, 2].map(|r| [0, 1, 2, 3].map(|c| f.f32(280 + 16 * r + 4 * c))),
                    intent_name: bytes[328..344].to_vec(),
                }
            }
            Version::Two => {
                let magic = &bytes[4..12];
                let single_file = match &magic[..4] {
                    b"n+2\0" => true,
                    b"ni2\0" => false,
                    _ => return Err(DecodeError::Magic(text(magic))),
                };
                let mut dim = [0i64; 8];
                let mut pixdim = [0f64; 8];
                for i in 0..8 {
                    dim[i] = f.i64(16 + 8 * i);
                    pixdim[i] = f.f64(104 + 8 * i);
                }
                Header {
                    version,
                    byte_order,
                    single_file,
                    dim_info: bytes[524],
                    dim,
                    intent_p: [f.f64(80), f.f64(88), f.f64(96)],
                    intent_code: f.i32(504) as i32,
                    datatype_code: f.i16(12) as i32,
                    bitpix: f.i16(14) as i32,
                    slice_start: f.i64(224),
                    pixdim,
                    vox_offset: f.i64(168) as f64,
                    scl_slope: f.f64(176),
                    scl_inter: f.f64(184),
                    slice_end: f.i64(232),
                    slice_code: f.i32(496) as i32,
                    xyzt_units: f.i32(500) as i32,
                    cal_max: f.f64(192),
                    cal_min: f.f64(200),
                    slice_duration: f.f64(208),
                    toffset: f.f64(216),
                    descrip: bytes[240..320].to_vec(),
                    aux_file: bytes[320..344].to_vec(),
                    qform_code: fix_xform_code(f.i32(344)),
                    sform_code: fix_xform_code(f.i32(348)),
                    quatern: [f.f64(352), f.f64(360), f.f64(368)],
                    qoffset: [f.f64(376), f.f64(384), f.f64(392)],
                    srow: [0, 1, 2].map(|r| [0, 1, 2, 3].map(|c| f.f64(400 + 32 * r + 8 * c))),
                    intent_name: bytes[508..524].to_vec(),
                }
            }
        };
        let mut h = h;
        // nibabel's load-time fix of the spatial voxel sizes (pixdim[1..=3]).
        for p in &mut h.pixdim[1..4] {
            if *p == 0.0 {
                *p = 1.0;
            } else if *p < 0.0 {
                *p = -*p;
            }
        }
        h.check_dims()?;
        h.datatype()?;
        Ok(h)
    }

    fn check_dims(&self) -> Result<(), DecodeError> {
        let rank = self.dim[0];
        if !(1..=7).contains(&rank) {
            return Err(DecodeError::Rank(rank));
        }
        for i in 1..=rank as usize {
            if self.dim[i] < 0 {
                return Err(DecodeError::NegativeDim {
                    index: i,
                    value: self.dim[i],
                });
            }
        }
        let size = self.datatype().map(|d| d.size() as u64).unwrap_or(1);
        self.shape()
            .iter()
            .try_fold(size, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| DecodeError::SizeOverflow(self.dim[1..=rank as usize].to_vec()))?;
        Ok(())
    }

    /// A fresh NIfTI-1 little-endian single-file header with identity scaling, unit voxels,
    /// `vox_offset` 352 and no transforms (both codes 0).
    pub fn new(datatype: DataType, shape: &[u64]) -> Header {
        let mut dim = [1i64; 8];
        dim[0] = shape.len().clamp(1, 7) as i64;
        for (d, &s) in dim[1..].iter_mut().zip(shape.iter().take(7)) {
            *d = s as i64;
        }
        let mut pixdim = [1f64; 8];
        pixdim[0] = 1.0;
        Header {
            version: Version::One,
            byte_order: ByteOrder::Little,
            single_file: true,
            dim_info: 0,
            dim,
            intent_p: [0.0; 3],
            intent_code: 0,
            datatype_code: datatype.code(),
            bitpix: (datatype.size() * 8) as i32,
            slice_start: 0,
            pixdim,
            vox_offset: 352.0,
            scl_slope: 1.0,
            scl_inter: 0.0,
            slice_end: 0,
            slice_code: 0,
            xyzt_units: 0,
            cal_max: 0.0,
            cal_min: 0.0,
            slice_duration: 0.0,
            toffset: 0.0,
            descrip: vec![0; 80],
            aux_file: vec![0; 24],
            qform_code: 0,
            sform_code: 0,
            quatern: [0.0; 3],
            qoffset: [0.0; 3],
            srow: [
                [1.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0],
            ],
            intent_name: vec![0; 16],
        }
    }

    /// Encodes the header (348 or 540 bytes, in its version and byte order). Text fields are
    /// truncated or NUL-padded to their width.
    pub fn encode(&self) -> Vec<u8> {
        let big = self.byte_order == ByteOrder::Big;
        let mut b = vec![0u8; self.version.header_len()];
        macro_rules! put {
            ($at:expr, $v:expr) => {{
                let v = $v;
                let bytes = if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                b[$at..$at + bytes.len()].copy_from_slice(&bytes);
            }};
        }
        fn put_text(b: &mut [u8], at: usize, width: usize, t: &[u8]) {
            let n = t.len().min(width);
            b[at..at + n].copy_from_slice(&t[..n]);
        }
        match self.version {
            Version::One => {
                put!(0, 348i32);
                b[38] = b'r';
                b[39] = self.dim_info;
                for i in 0..8 {
                    put!(40 + 2 * i, self.dim[i] as i16);
                    put!(76 + 4 * i, self.pixdim[i] as f32);
                }
                for i in 0..3 {
                    put!(56 + 4 * i, self.intent_p[i] as f32);
                }
                put!(68, self.intent_code as i16);
                put!(70, self.datatype_code as i16);
                put!(72, self.bitpix as i16);
                put!(74, self.slice_start as i16);
                put!(108, self.vox_offset as f32);
                put!(112, self.scl_slope as f32);
                put!(116, self.scl_inter as f32);
                put!(120, self.slice_end as i16);
                b[122] = self.slice_code as u8;
                b[123] = self.xyzt_units as u8;
                put!(124, self.cal_max as f32);
                put!(128, self.cal_min as f32);
                put!(132, self.slice_duration as f32);
                put!(136, self.toffset as f32);
                put_text(&mut b, 148, 80, &self.descrip);
                put_text(&mut b, 228, 24, &self.aux_file);
                put!(252, self.qform_code as i16);
                put!(254, self.sform_code as i16);
                for i in 0..3 {
                    put!(256 + 4 * i, self.quatern[i] as f32);
                    put!(268 + 4 * i, self.qoffset[i] as f32);
                    for c in 0..4 {
                        put!(280 + 16 * i + 4 * c, self.srow[i][c] as f32);
                    }
                }
                put_text(&mut b, 328, 16, &self.intent_name);
                b[344..348].copy_from_slice(if self.single_file { b"n+1\0" } else { b"ni1\0" });
            }
            Version::Two => {
                put!(0, 540i32);
                b[4..12].copy_from_slice(if self.single_file {
                    b"n+2\0\r\n\x1a\n"
                } else {
                    b"ni2\0\r\n\x1a\n"
                });
                put!(12, self.datatype_code as i16);
                put!(14, self.bitpix as i16);
                for i in 0..8 {
                    put!(16 + 8 * i, self.dim[i]);
                    put!(104 + 8 * i, self.pixdim[i]);
                }
                for i in 0..3 {
                    put!(80 + 8 * i, self.intent_p[i]);
                }
                put!(168, self.vox_offset as i64);
                put!(176, self.scl_slope);
                put!(184, self.scl_inter);
                put!(192, self.cal_max);
                put!(200, self.cal_min);
                put!(208, self.slice_duration);
                put!(216, self.toffset);
                put!(224, self.slice_start);
                put!(232, self.slice_end);
                put_text(&mut b, 240, 80, &self.descrip);
                put_text(&mut b, 320, 24, &self.aux_file);
                put!(344, self.qform_code);
                put!(348, self.sform_code);
                for i in 0..3 {
                    put!(352 + 8 * i, self.quatern[i]);
                    put!(376 + 8 * i, self.qoffset[i]);
                    for c in 0..4 {
                        put!(400 + 32 * i + 8 * c, self.srow[i][c]);
                    }
                }
                put!(496, self.slice_code);
                put!(500, self.xyzt_units);
                put!(504, self.intent_code);
                put_text(&mut b, 508, 16, &self.intent_name);
                b[524] = self.dim_info;
            }
        }
        b
    }

    /// The datatype, or an error for an unknown or undecodable code.
    pub fn datatype(&self) -> Result<DataType, DecodeError> {
        match DataType::from_code(self.datatype_code) {
            Some(d) if d.is_decodable() => Ok(d),
            Some(d) => Err(DecodeError::LongDouble(self.datatype_code, d.name())),
            None => Err(DecodeError::Datatype(self.datatype_code)),
        }
    }

    /// Number of dimensions (`dim[0]`, clamped to 1..=7).
    pub fn ndim(&self) -> usize {
        self.dim[0].clamp(1, 7) as usize
    }

    /// `dim[1..=dim[0]]` (negative sizes read as 0; [`Header::parse`] refuses them).
    pub fn shape(&self) -> Vec<u64> {
        self.dim[1..=self.ndim()]
            .iter()
            .map(|&d| d.max(0) as u64)
            .collect()
    }

    /// `pixdim[1..=dim[0]]`.
    pub fn zooms(&self) -> Vec<f64> {
        self.pixdim[1..=self.ndim()].to_vec()
    }

    /// Voxels in one volume: the product of the first three axes (missing axes count as 1).
    pub fn volume_voxels(&self) -> u64 {
        self.shape().iter().take(3).product()
    }

    /// Volumes: the product of axes 4 to 7 (1 for a 3-D image).
    pub fn n_volumes(&self) -> u64 {
        self.shape().iter().skip(3).product()
    }

    /// Total data bytes, `None` on overflow or an unknown datatype.
    pub fn data_bytes(&self) -> Option<u64> {
        let size = self.datatype().ok()?.size() as u64;
        self.shape()
            .iter()
            .try_fold(size, |acc, &d| acc.checked_mul(d))
    }

    /// The scaling nibabel applies: `Some((slope, inter))`, or `None` when the slope is 0 or not
    /// finite (no scaling), or the datatype is RGB. A non-finite intercept counts as 0.
    pub fn scaling(&self) -> Option<(f64, f64)> {
        let s = self.scl_slope;
        if s == 0.0 || !s.is_finite() || !self.datatype().map(DataType::is_scalable).unwrap_or(true)
        {
            return None;
        }
        let i = if self.scl_inter.is_finite() {
            self.scl_inter
        } else {
            0.0
        };
        Some((s, i))
    }

    /// Spatial unit name from `xyzt_units`: `"meter"`, `"mm"`, `"micron"` or `"unknown"`.
    pub fn spatial_unit(&self) -> &'static str {
        match self.xyzt_units & 0x07 {
            1 => "meter",
            2 => "mm",
            3 => "micron",
            _ => "unknown",
        }
    }

    /// Temporal unit name from `xyzt_units`: `"sec"`, `"msec"`, `"usec"`, `"hz"`, `"ppm"`,
    /// `"rads"` or `"unknown"`.
    pub fn temporal_unit(&self) -> &'static str {
        match self.xyzt_units & 0x38 {
            8 => "sec",
            16 => "msec",
            24 => "usec",
            32 => "hz",
            40 => "ppm",
            48 => "rads",
            _ => "unknown",
        }
    }

    /// The repetition time in seconds: `pixdim[4]` converted by the temporal unit, `None` for a
    /// 3-D image, a zero step, or a non-time unit.
    pub fn repetition_time_s(&self) -> Option<f64> {
        if self.ndim() < 4 || self.pixdim[4] == 0.0 || !self.pixdim[4].is_finite() {
            return None;
        }
        let f = match self.temporal_unit() {
            "sec" | "unknown" => 1.0,
            "msec" => 1e-3,
            "usec" => 1e-6,
            _ => return None,
        };
        Some(self.pixdim[4] * f)
    }

    /// `descrip` up to the first NUL.
    pub fn descrip(&self) -> String {
        text(&self.descrip)
    }

    /// `aux_file` up to the first NUL.
    pub fn aux_file(&self) -> String {
        text(&self.aux_file)
    }

    /// `intent_name` up to the first NUL.
    pub fn intent_name(&self) -> String {
        text(&self.intent_name)
    }

    /// The sform affine from `srow_*` (whatever `sform_code` says).
    pub fn sform(&self) -> Affine {
        let s = &self.srow;
        [s[0], s[1], s[2], [0.0, 0.0, 0.0, 1.0]]
    }

    /// The qform affine from the quaternion, offsets and `pixdim`, computed as nibabel does:
    /// `a = sqrt(1 - b² - c² - d²)`, set to 0 when `|1 - b² - c² - d²|` is below three machine
    /// epsilons of the stored float type; `qfac = -1` only when `pixdim[0]` is exactly -1.
    pub fn qform(&self) -> Affine {
        let [b, c, d] = self.quatern;
        let eps = match self.version {
            Version::One => f32::EPSILON as f64,
            Version::Two => f64::EPSILON,
        };
        let w2 = 1.0 - (b * b + c * c + d * d);
        let a = if w2.abs() < 3.0 * eps {
            0.0
        } else {
            w2.max(0.0).sqrt()
        };
        let r = quat_to_mat([a, b, c, d]);
        let qfac = if self.pixdim[0] == -1.0 { -1.0 } else { 1.0 };
        let vox = [self.pixdim[1], self.pixdim[2], self.pixdim[3] * qfac];
        let mut out = [[0.0; 4]; 4];
        for (i, row) in out.iter_mut().take(3).enumerate() {
            for j in 0..3 {
                row[j] = r[i][j] * vox[j];
            }
            row[3] = self.qoffset[i];
        }
        out[3] = [0.0, 0.0, 0.0, 1.0];
        out
    }

    /// The pixdim-only affine nibabel falls back to when both codes are 0: x flipped, origin at
    /// the centre of the first three axes.
    pub fn base_affine(&self) -> Affine {
        let shape = self.shape();
        let mut out = [[0.0; 4]; 4];
        for (i, row) in out.iter_mut().take(3).enumerate() {
            let n = shape.get(i).copied().unwrap_or(1) as f64;
            let z = if i < self.ndim() {
                self.pixdim[i + 1]
            } else {
                1.0
            };
            let z = if i == 0 { -z } else { z };
            row[i] = z;
            row[3] = -((n - 1.0) / 2.0) * z;
        }
        out[3] = [0.0, 0.0, 0.0, 1.0];
        out
    }

    /// The affine a user should trust (nibabel's rule): the sform when `sform_code > 0`, else the
    /// qform when `qform_code > 0`, else [`Header::base_affine`].
    pub fn best_affine(&self) -> Affine {
        if self.sform_code > 0 {
            self.sform()
        } else if self.qform_code > 0 {
            self.qform()
        } else {
            self.base_affine()
        }
    }
}

fn quat_to_mat(q: [f64; 4]) -> [[f64; 3]; 3] {
    let [w, x, y, z] = q;
    let nq = w * w + x * x + y * y + z * z;
    if nq < f64::EPSILON {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let s = 2.0 / nq;
    let (xs, ys, zs) = (x * s, y * s, z * s);
    let (wx, wy, wz) = (w * xs, w * ys, w * zs);
    let (xx, xy, xz) = (x * xs, x * ys, x * zs);
    let (yy, yz, zz) = (y * ys, y * zs, z * zs);
    [
        [1.0 - (yy + zz), xy - wz, xz + wy],
        [xy + wz, 1.0 - (xx + zz), yz - wx],
        [xz - wy, yz + wx, 1.0 - (xx + yy)],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_versions_and_orders() {
        for version in [Version::One, Version::Two] {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                let mut h = Header::new(DataType::Float32, &[3, 4, 5, 6]);
                h.version = version;
                h.byte_order = order;
                h.vox_offset = if version == Version::One {
                    352.0
                } else {
                    544.0
                };
                h.descrip = b"hello".to_vec();
                h.sform_code = 2;
                h.srow[0][3] = -10.5;
                let b = h.encode();
                let back = Header::parse(&b).unwrap();
                assert_eq!(back.version, version);
                assert_eq!(back.byte_order, order);
                assert_eq!(back.shape(), vec![3, 4, 5, 6]);
                assert_eq!(back.descrip(), "hello");
                assert_eq!(back.best_affine()[0][3], -10.5);
            }
        }
    }

    #[test]
    fn refuses_bad_fields() {
        let h = Header::new(DataType::Int16, &[2, 2, 2]);
        let mut b = h.encode();
        b[0..4].copy_from_slice(&349i32.to_le_bytes());
        assert!(matches!(
            Header::parse(&b),
            Err(DecodeError::SizeofHdr(349))
        ));
        let mut b = h.encode();
        b[42..44].copy_from_slice(&(-3i16).to_le_bytes());
        assert!(matches!(
            Header::parse(&b),
            Err(DecodeError::NegativeDim {
                index: 1,
                value: -3
            })
        ));
        let mut b = h.encode();
        b[70..72].copy_from_slice(&3i16.to_le_bytes());
        assert!(matches!(Header::parse(&b), Err(DecodeError::Datatype(3))));
        let mut b = h.encode();
        b[40..42].copy_from_slice(&9i16.to_le_bytes());
        assert!(matches!(Header::parse(&b), Err(DecodeError::Rank(9))));
    }

    #[test]
    fn nibabel_scaling_rule() {
        let mut h = Header::new(DataType::Int16, &[1]);
        h.scl_slope = 0.0;
        assert_eq!(h.scaling(), None);
        h.scl_slope = f64::NAN;
        assert_eq!(h.scaling(), None);
        h.scl_slope = 2.0;
        h.scl_inter = f64::INFINITY;
        assert_eq!(h.scaling(), Some((2.0, 0.0)));
    }
}
