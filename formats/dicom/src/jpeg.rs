//! Encapsulated JPEG (baseline, extended 8-bit, lossless processes 14 and SV1) through the
//! pure-Rust `jpeg-decoder`: fragments gathered into frames, each decoded and checked against
//! the image attributes, returned as native little-endian bytes, samples interleaved.

use std::ops::Range;

use jpeg_decoder::{ColorTransform, Decoder, PixelFormat, UnsupportedFeature};

use crate::error::DicomError;
use crate::pixels::Image;

pub(crate) fn codec(frame: usize, message: impl Into<String>) -> DicomError {
    DicomError::Codec {
        frame,
        message: message.into(),
    }
}

/// Whether a fragment ends a JPEG stream (EOI, before any trailing padding byte).
fn ends_frame(b: &[u8]) -> bool {
    let end = b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
    end >= 2 && b[end - 2..end] == [0xFF, 0xD9]
}

/// The fragments of each frame: one per frame when the counts agree, else split at EOI markers.
pub(crate) fn frames<'a>(
    data: &'a [u8],
    frags: &[Range<usize>],
    n: usize,
) -> Result<Vec<Vec<&'a [u8]>>, DicomError> {
    let parts: Vec<&[u8]> = frags.iter().filter_map(|r| data.get(r.clone())).collect();
    if parts.len() == n {
        return Ok(parts.into_iter().map(|p| vec![p]).collect());
    }
    let mut out = vec![Vec::new()];
    for p in parts {
        if let Some(cur) = out.last_mut() {
            cur.push(p);
        }
        if ends_frame(p) {
            out.push(Vec::new());
        }
    }
    out.retain(|f| !f.is_empty());
    if out.len() != n {
        return Err(codec(
            0,
            format!("{} jpeg streams for {n} frames", out.len()),
        ));
    }
    Ok(out)
}

/// Decodes every frame; `photometric` is the file's own (colour JPEG with `RGB` is stored
/// untransformed, with `YBR_*` as YCbCr). A DCT process with 12-bit samples (which
/// `jpeg-decoder` lacks) goes to [`crate::jpeg12`] for grey images and is refused as an
/// unsupported transfer syntax `uid` for colour.
pub fn decode(
    data: &[u8],
    frags: &[Range<usize>],
    img: &Image,
    photometric: &str,
    uid: &str,
) -> Result<Vec<u8>, DicomError> {
    let parts = frames(data, frags, img.frames)?;
    let compressed: usize = parts.iter().flatten().map(|p| p.len()).sum();
    let width = usize::from(img.bits_allocated.div_ceil(8));
    let frame_bytes = img.rows * img.columns * img.samples * width;
    // No JPEG process reaches 1024:1; more output than that is not in the file.
    if (frame_bytes as u64).saturating_mul(img.frames as u64)
        > (compressed as u64).saturating_mul(1024) + (1 << 20)
    {
        return Err(codec(0, "encoded frames are too short for the image size"));
    }
    let mut out = Vec::with_capacity(frame_bytes.saturating_mul(img.frames));
    for (k, p) in parts.iter().enumerate() {
        out.extend(frame(&p.concat(), img, photometric, k, uid)?);
    }
    Ok(out)
}

fn frame(
    stream: &[u8],
    img: &Image,
    photometric: &str,
    k: usize,
    uid: &str,
) -> Result<Vec<u8>, DicomError> {
    let mut d = Decoder::new(stream);
    match d.read_info() {
        Ok(()) => {}
        // 12-bit DCT: grey images through the crate's own decoder, colour refused by name.
        Err(jpeg_decoder::Error::Unsupported(UnsupportedFeature::SamplePrecision(_))) => {
            return if img.samples == 1 && img.bits_allocated == 16 {
                crate::jpeg12::decode_frame(stream, img.rows, img.columns, k)
            } else {
                Err(DicomError::UnsupportedTransferSyntax(uid.to_string()))
            };
        }
        Err(e) => return Err(codec(k, e.to_string())),
    }
    let info = d.info().ok_or_else(|| codec(k, "no frame header"))?;
    if (usize::from(info.height), usize::from(info.width)) != (img.rows, img.columns) {
        return Err(codec(
            k,
            format!(
                "jpeg is {}×{}, Rows×Columns are {}×{}",
                info.height, info.width, img.rows, img.columns
            ),
        ));
    }
    let (samples, bits) = match info.pixel_format {
        PixelFormat::L8 => (1, 8),
        PixelFormat::L16 => (1, 16),
        PixelFormat::RGB24 => (3, 8),
        PixelFormat::CMYK32 => return Err(codec(k, "cmyk jpeg")),
    };
    if samples != img.samples || bits != img.bits_allocated {
        return Err(codec(
            k,
            format!(
                "jpeg has {samples} samples of {bits} bits, the image attributes say {} of {}",
                img.samples, img.bits_allocated
            ),
        ));
    }
    if img.samples == 3 {
        d.set_color_transform(if photometric == "RGB" {
            ColorTransform::RGB
        } else {
            ColorTransform::YCbCr
        });
    }
    // The decoder panics on a few malformed inputs; a damaged file must be an error instead.
    let pixels = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.decode()))
        .map_err(|_| codec(k, "jpeg decoder failed on malformed data"))?
        .map_err(|e| codec(k, e.to_string()))?;
    if bits == 16 {
        // jpeg-decoder returns 16-bit samples in native byte order.
        Ok(pixels
            .chunks_exact(2)
            .flat_map(|c| u16::from_ne_bytes([c[0], c[1]]).to_le_bytes())
            .collect())
    } else {
        Ok(pixels)
    }
}
