//! Encapsulated JPEG 2000 (lossless and lossy) through `jpeg2k` on the pure-Rust `openjp2`:
//! each frame's codestream decoded (the inverse component transform included, so colour comes
//! out RGB), checked against the image attributes, returned as native little-endian bytes.

use std::ops::Range;

use crate::error::DicomError;
use crate::pixels::Image;

fn codec(frame: usize, message: impl Into<String>) -> DicomError {
    DicomError::Codec {
        frame,
        message: message.into(),
    }
}

/// Whether a fragment ends a JPEG 2000 codestream (EOC marker FFD9, padding allowed).
fn frames<'a>(
    data: &'a [u8],
    frags: &[Range<usize>],
    n: usize,
) -> Result<Vec<Vec<u8>>, DicomError> {
    let parts: Vec<&'a [u8]> = frags.iter().filter_map(|r| data.get(r.clone())).collect();
    if parts.len() == n {
        return Ok(parts.into_iter().map(<[u8]>::to_vec).collect());
    }
    if n == 1 {
        return Ok(vec![parts.concat()]);
    }
    Err(codec(
        0,
        format!("{} fragments for {n} frames", parts.len()),
    ))
}

/// Decodes every frame.
pub fn decode(data: &[u8], frags: &[Range<usize>], img: &Image) -> Result<Vec<u8>, DicomError> {
    let parts = frames(data, frags, img.frames)?;
    let compressed: usize = parts.iter().map(Vec::len).sum();
    let width = usize::from(img.bits_allocated.div_ceil(8));
    let frame_bytes = img.rows * img.columns * img.samples * width;
    if (frame_bytes as u64).saturating_mul(img.frames as u64)
        > (compressed as u64).saturating_mul(1024) + (1 << 20)
    {
        return Err(codec(0, "encoded frames are too short for the image size"));
    }
    let mut out = Vec::with_capacity(frame_bytes.saturating_mul(img.frames));
    for (k, p) in parts.iter().enumerate() {
        frame(p, img, k, &mut out)?;
    }
    Ok(out)
}

fn frame(stream: &[u8], img: &Image, k: usize, out: &mut Vec<u8>) -> Result<(), DicomError> {
    let decoded = std::panic::catch_unwind(|| jpeg2k::Image::from_bytes(stream))
        .map_err(|_| codec(k, "jpeg 2000 decoder failed on malformed data"))?
        .map_err(|e| codec(k, e.to_string()))?;
    let comps = decoded.components();
    if comps.len() != img.samples {
        return Err(codec(
            k,
            format!(
                "codestream has {} components, SamplesPerPixel is {}",
                comps.len(),
                img.samples
            ),
        ));
    }
    let (w, h) = (img.columns, img.rows);
    for c in comps {
        if (c.width() as usize, c.height() as usize) != (w, h) || c.data().len() != w * h {
            return Err(codec(
                k,
                format!(
                    "component is {}×{}, Rows×Columns are {h}×{w}",
                    c.height(),
                    c.width()
                ),
            ));
        }
    }
    let bytes = usize::from(img.bits_allocated.div_ceil(8));
    for p in 0..w * h {
        for c in comps {
            let v = c.data()[p] as u32;
            out.extend(&v.to_le_bytes()[..bytes]);
        }
    }
    Ok(())
}
