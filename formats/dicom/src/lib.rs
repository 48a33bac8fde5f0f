//! DICOM reader: a PS3.10 file (preamble, file meta group, data set) in implicit or explicit VR
//! little endian, explicit VR big endian or deflated explicit VR little endian; sequences of
//! defined and undefined length; native pixel data (1/8/16/32 bits, signed or unsigned, 1 or 3
//! samples, either planar configuration, multi-frame, YBR_FULL_422) and RLE Lossless; the
//! modality LUT as rescale slope and intercept (Philips precise floating-point scaling where
//! the private scale slope is present, as dcm2niix: [`philips`]); JPEG baseline, extended
//! (8-bit) and lossless with the default feature `jpeg`; JPEG 2000 with the default feature
//! `jpeg2000`; JPEG-LS lossless and near-lossless with the default feature `jpegls` (the crate's
//! own decoder); JPEG extended 12-bit grey images with `jpeg` too (the crate's own decoder).
//! 12-bit colour JPEG, HTJ2K (and the others without their feature) are refused by UID
//! ([`DicomError::UnsupportedTransferSyntax`]).
//!
//! Series become volumes: classic single-frame instances ([`series`]), enhanced and legacy
//! multi-frame objects from their functional groups ([`multiframe`], nested items read by
//! [`sequence`]), Siemens mosaics unpacked into slices ([`mosaic`], from the CSA header read by
//! [`csa`]), with their diffusion encodings ([`diffusion`]).
//!
//! Lengths read from the file are checked against the bytes left before use; nothing is
//! allocated from a header field alone.

pub mod corder;
pub mod csa;
pub mod diffusion;
pub mod error;
#[cfg(feature = "jpeg2000")]
mod j2k;
#[cfg(feature = "jpeg")]
mod jpeg;
#[cfg(feature = "jpeg")]
mod jpeg12;
#[cfg(feature = "jpegls")]
mod jpegls;
pub mod mosaic;
pub mod multiframe;
pub mod parse;
pub mod philips;
pub mod pixels;
pub mod probe;
mod rle;
pub mod sequence;
pub mod series;

pub use error::{DicomError, SeriesError};
pub use parse::{File, Item, parse, parse_header};
pub use pixels::{Image, decode};

/// Reads and parses a DICOM file.
pub fn open(path: &std::path::Path) -> std::io::Result<File> {
    let bytes = std::fs::read(path)?;
    Ok(parse(bytes)?)
}

/// Reads and parses a DICOM file's attributes up to the PixelData element, reading the file in
/// growing parts (16 KiB, doubled) until that element is reached: planning never reads pixel
/// data. The returned [`File`] has no PixelData. Deflated files are read whole.
pub fn open_header(path: &std::path::Path) -> std::io::Result<File> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    let mut want = 16 * 1024;
    loop {
        let eof = read_up_to(&mut f, &mut buf, want)?;
        if eof {
            return Ok(parse_header(buf)?.0);
        }
        match parse_header(buf.clone()) {
            Ok((file, true)) if file.transfer_syntax_uid != parse::DEFLATED => return Ok(file),
            _ => want = want.saturating_mul(2),
        }
    }
}

/// Reads from `f` until `buf` holds `want` bytes or the file ends (then returns true): reads
/// straight into `buf`'s spare room, in as few calls as the file allows.
pub(crate) fn read_up_to(
    f: &mut impl std::io::Read,
    buf: &mut Vec<u8>,
    want: usize,
) -> std::io::Result<bool> {
    let mut got = buf.len();
    buf.resize(want.max(got), 0);
    while got < want {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(got);
                return Err(e);
            }
        }
    }
    buf.truncate(got);
    Ok(got < want)
}
