//! NIfTI-1 and NIfTI-2 images: a volume-at-a-time reader, a writer, and `bomdata probe`.
//!
//! Specs: [NIfTI-1](https://nifti.nimh.nih.gov/nifti-1) (`nifti1.h`) and
//! [NIfTI-2](https://nifti.nimh.nih.gov/nifti-2) (`nifti2.h`). Values, scaling and affines follow
//! nibabel 5 where the spec leaves a choice.
//!
//! Supported:
//! - single files (`.nii`, `.nii.gz`) and pairs (`.hdr` + `.img`, either optionally gzipped);
//!   gzip with several members (bgzip, pigz) is decoded through to the end;
//! - both byte orders (detected from `sizeof_hdr`: 348 or 540);
//! - every standard datatype but the 16-byte long doubles: int8..uint64, float32/64,
//!   complex64/128, rgb24, rgba32;
//! - `scl_slope`/`scl_inter` with nibabel's rule (a slope of 0 or non-finite means no scaling;
//!   scaling happens in float64; a non-finite intercept counts as 0); RGB(A) is never scaled;
//!   complex values are scaled on both parts (`nifti1.h`; nibabel adds the intercept to the real
//!   part only);
//! - qform (quaternion), sform, and nibabel's best-affine rule ([`Header::best_affine`]);
//! - header extensions (code, esize, content); up to 7 dimensions; text fields up to the first NUL.
//!
//! Not supported: `DT_BINARY` (1-bit); float128 and complex256, refused with
//! [`DecodeError::LongDouble`] because a 16-byte `long double` is x87 extended on x86 and IEEE
//! binary128 elsewhere and the file does not say which (nibabel 5.4 refuses code 1536 too);
//! Analyze 7.5 headers without a NIfTI magic; zstd-compressed files; and writing `.hdr`/`.img` pairs ([`Header::encode`] gives the header
//! bytes for callers that need one).
//!
//! Header values that would make the reader allocate from them (`dim`, `vox_offset`) are
//! checked against the file size first (for gzip, against the most the compressed file can
//! expand to) and refused with [`std::io::ErrorKind::InvalidData`] wrapping a [`DecodeError`].
//!
//! ```
//! use bomdata_nifti::{DataType, Reader, WriteOptions, Writer};
//! let opts = WriteOptions::new(DataType::Int16, &[2, 2, 1, 2]).with_scaling(0.5, 1.0);
//! let mut w = Writer::new(Vec::new(), &opts)?;
//! w.write_values(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])?;
//! let bytes = w.finish()?;
//! let mut r = Reader::from_single(&bytes[..], bytes.len() as u64, false)?;
//! let mut vol = Vec::new();
//! assert!(r.read_volume_f32(&mut vol)?);
//! assert_eq!(vol, [1.0, 1.5, 2.0, 2.5]);
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod decode;
pub mod error;
pub mod header;
pub mod io;
pub mod probe;

/// This crate's version, for provenance records (`"bomdata-nifti " + VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::DecodeError;
pub use header::{Affine, ByteOrder, DataType, Extension, Header, Version};
pub use io::{Reader, WriteOptions, Writer};
