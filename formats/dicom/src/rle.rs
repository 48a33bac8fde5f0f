//! RLE Lossless (PS3.5 annex G): per frame a 64-byte header of segment offsets, one PackBits
//! segment per byte plane (most significant byte first), samples colour-by-plane.

use std::ops::Range;

use crate::error::DicomError;
use crate::pixels::Image;

fn err(frame: usize, what: &'static str) -> DicomError {
    DicomError::Rle { frame, what }
}

/// Decodes every frame into native little-endian bytes, colour-by-plane within each frame.
pub fn decode(data: &[u8], frags: &[Range<usize>], img: &Image) -> Result<Vec<u8>, DicomError> {
    if img.bits_allocated == 1 {
        return Err(err(0, "1-bit images are not rle-coded"));
    }
    let width = usize::from(img.bits_allocated / 8);
    let plane = img.rows * img.columns;
    let frame_bytes = plane * img.samples * width;
    let parts: Vec<&[u8]> = frags.iter().filter_map(|r| data.get(r.clone())).collect();
    let frames: Vec<Vec<u8>> = if parts.len() == img.frames {
        parts.into_iter().map(<[u8]>::to_vec).collect()
    } else if img.frames == 1 && !parts.is_empty() {
        vec![parts.concat()]
    } else {
        return Err(err(0, "fragment count does not match NumberOfFrames"));
    };
    // A PackBits run of 2 bytes yields at most 128: more output than that is not in the file.
    let compressed: usize = frames.iter().map(|f| f.len()).sum();
    if (frame_bytes as u64).saturating_mul(img.frames as u64)
        > (compressed as u64).saturating_mul(64)
    {
        return Err(err(0, "encoded frames are too short for the image size"));
    }
    let mut out = vec![0u8; frame_bytes * img.frames];
    for (fi, fr) in frames.iter().enumerate() {
        let segs = usize::try_from(u32_le(fr, 0).ok_or(err(fi, "header is short"))?).unwrap_or(0);
        if segs != img.samples * width {
            return Err(err(
                fi,
                "segment count does not match samples × bytes per sample",
            ));
        }
        let dst = &mut out[fi * frame_bytes..(fi + 1) * frame_bytes];
        for s in 0..segs {
            let start = u32_le(fr, 4 + 4 * s).ok_or(err(fi, "header is short"))? as usize;
            let end = if s + 1 < segs {
                u32_le(fr, 8 + 4 * s).ok_or(err(fi, "header is short"))? as usize
            } else {
                fr.len()
            };
            let seg = fr
                .get(start..end)
                .ok_or(err(fi, "segment offset outside the frame"))?;
            let (sample, byte) = (s / width, width - 1 - s % width);
            let mut k = 0usize;
            packbits(seg, plane, |v| {
                dst[(sample * plane + k) * width + byte] = v;
                k += 1;
            })
            .map_err(|what| err(fi, what))?;
        }
    }
    Ok(out)
}

fn u32_le(b: &[u8], p: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(p..p + 4)?.try_into().ok()?))
}

/// PackBits into `put`, exactly `n` bytes.
fn packbits(seg: &[u8], n: usize, mut put: impl FnMut(u8)) -> Result<(), &'static str> {
    let (mut i, mut done) = (0usize, 0usize);
    while done < n {
        let h = *seg.get(i).ok_or("segment ends before the plane is full")? as i8;
        i += 1;
        if h >= 0 {
            let run = seg
                .get(i..i + h as usize + 1)
                .ok_or("literal run past segment end")?;
            i += run.len();
            for &v in run.iter().take(n - done) {
                put(v);
            }
            done = (done + run.len()).min(n);
        } else if h != -128 {
            let v = *seg.get(i).ok_or("repeat run past segment end")?;
            i += 1;
            let count = (1 - isize::from(h)) as usize;
            for _ in 0..count.min(n - done) {
                put(v);
            }
            done = (done + count).min(n);
        }
    }
    Ok(())
}
