//! Pixel data to sample values: native (8/16/32 bits, and 1-bit packed), RLE Lossless, the
//! YBR_FULL(_422) to RGB conversion, and the modality LUT (rescale slope and intercept).

use crate::error::DicomError;
use crate::parse::{File, PIXEL_DATA, PixelCoding};

/// The image attributes that decide how pixel data decodes.
#[derive(Clone, Debug)]
pub struct Image {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub columns: usize,
    /// NumberOfFrames (1 when absent).
    pub frames: usize,
    /// SamplesPerPixel.
    pub samples: usize,
    /// BitsAllocated (1, 8, 16 or 32).
    pub bits_allocated: u16,
    /// BitsStored.
    pub bits_stored: u16,
    /// PixelRepresentation 1: two's complement.
    pub signed: bool,
    /// PlanarConfiguration 1: colour-by-plane.
    pub planar: bool,
    /// PhotometricInterpretation.
    pub photometric: String,
    /// RescaleSlope and RescaleIntercept when the image has either; for a Philips image with a
    /// private scale slope, the precise floating-point LUT instead ([`crate::philips`]).
    pub rescale: Option<(f64, f64)>,
}

fn us(f: &File, tag: u32, name: &'static str, kw: &'static str) -> Result<u16, DicomError> {
    f.us(tag).ok_or(DicomError::Missing(name, kw))
}

fn bad(name: &'static str, value: impl ToString) -> DicomError {
    DicomError::BadValue {
        name,
        value: value.to_string(),
    }
}

impl Image {
    /// Reads the image attributes, checking that they describe a decodable image.
    pub fn from_file(f: &File) -> Result<Image, DicomError> {
        let rows = us(f, 0x0028_0010, "Rows", "(0028,0010)")?;
        let columns = us(f, 0x0028_0011, "Columns", "(0028,0011)")?;
        let samples = f.us(0x0028_0002).unwrap_or(1);
        let bits_allocated = us(f, 0x0028_0100, "BitsAllocated", "(0028,0100)")?;
        let bits_stored = f.us(0x0028_0101).unwrap_or(bits_allocated);
        let frames = match f.number(0x0028_0008) {
            None => 1.0,
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX) => n,
            Some(n) => return Err(bad("NumberOfFrames", n)),
        };
        if !matches!(bits_allocated, 1 | 8 | 16 | 32) {
            return Err(bad("BitsAllocated", bits_allocated));
        }
        if bits_stored == 0 || bits_stored > bits_allocated {
            return Err(bad("BitsStored", bits_stored));
        }
        if !matches!(samples, 1 | 3) {
            return Err(bad("SamplesPerPixel", samples));
        }
        let slope = f.number(0x0028_1053);
        let intercept = f.number(0x0028_1052);
        let rescale = (slope.is_some() || intercept.is_some())
            .then(|| (slope.unwrap_or(1.0), intercept.unwrap_or(0.0)));
        let rescale = crate::philips::modality_lut(f, rescale);
        Ok(Image {
            rows: usize::from(rows),
            columns: usize::from(columns),
            frames: frames as usize,
            samples: usize::from(samples),
            bits_allocated,
            bits_stored,
            signed: f.us(0x0028_0103) == Some(1),
            planar: f.us(0x0028_0006) == Some(1),
            photometric: f.text(0x0028_0004).unwrap_or_default(),
            rescale,
        })
    }

    /// Samples in the decoded image (frames × rows × columns × samples), or `None` on overflow.
    pub fn n_samples(&self) -> Option<u64> {
        (self.rows as u64)
            .checked_mul(self.columns as u64)?
            .checked_mul(self.frames as u64)?
            .checked_mul(self.samples as u64)
    }

    fn subsampled(&self) -> bool {
        self.photometric == "YBR_FULL_422" && self.samples == 3
    }

    /// Stored bytes of native pixel data for the whole image.
    fn native_len(&self) -> Option<u64> {
        let mut n = self.n_samples()?;
        if self.subsampled() {
            n = n / 3 * 2;
        }
        Some(if self.bits_allocated == 1 {
            n.div_ceil(8)
        } else {
            n.checked_mul(u64::from(self.bits_allocated / 8))?
        })
    }

    /// A stored sample as its value: masked to BitsStored, sign-extended when signed.
    fn value(&self, raw: u32) -> f64 {
        let bits = u32::from(self.bits_stored);
        let masked = if bits >= 32 {
            raw
        } else {
            raw & ((1u32 << bits) - 1)
        };
        if self.signed && bits < 32 && masked >> (bits - 1) & 1 == 1 {
            (i64::from(masked) - (1i64 << bits)) as f64
        } else if self.signed {
            f64::from(masked as i32)
        } else {
            f64::from(masked)
        }
    }
}

/// Decodes every sample of the image, in `(frame, row, column, sample)` order, after the colour
/// conversion (YBR_FULL/YBR_FULL_422 8-bit to RGB) but before the modality LUT.
pub fn decode(f: &File, img: &Image) -> Result<Vec<f64>, DicomError> {
    let el = f.elements.get(&PIXEL_DATA).ok_or(DicomError::NoPixelData)?;
    let need = img
        .native_len()
        .ok_or_else(|| bad("Rows×Columns×NumberOfFrames", "overflow"))?;
    let mut out = match (&f.pixel_coding, &el.fragments) {
        (PixelCoding::Unsupported(uid), _) => {
            return Err(DicomError::UnsupportedTransferSyntax(uid.clone()));
        }
        (PixelCoding::Rle, Some(frags)) => {
            let native = crate::rle::decode(&f.data, frags, img)?;
            native_samples(&native, img, false, true)?
        }
        #[cfg(feature = "jpeg")]
        (PixelCoding::Jpeg, Some(frags)) => {
            // The codec returns RGB for colour images, whatever the photometric interpretation.
            let mut rgb = img.clone();
            if rgb.samples == 3 {
                rgb.photometric = "RGB".into();
            }
            let native = crate::jpeg::decode(
                &f.data,
                frags,
                &rgb,
                &img.photometric,
                &f.transfer_syntax_uid,
            )?;
            return native_samples(&native, &rgb, false, false);
        }
        #[cfg(feature = "jpeg2000")]
        (PixelCoding::Jpeg2000, Some(frags)) => {
            let mut rgb = img.clone();
            if rgb.samples == 3 {
                rgb.photometric = "RGB".into();
            }
            let native = crate::j2k::decode(&f.data, frags, &rgb)?;
            // YBR_RCT/YBR_ICT are undone by the codec; YBR_FULL (no component transform) is
            // converted below like native data.
            native_samples(&native, &rgb, false, false)?
        }
        #[cfg(feature = "jpegls")]
        (PixelCoding::JpegLs, Some(frags)) => {
            // Decoded at full resolution, colour as stored (YBR_FULL is converted below).
            let mut full = img.clone();
            if full.subsampled() {
                full.photometric = "YBR_FULL".into();
            }
            let native = crate::jpegls::decode(&f.data, frags, &full)?;
            native_samples(&native, &full, false, false)?
        }
        (_, Some(_))
        | (
            PixelCoding::Rle | PixelCoding::Jpeg | PixelCoding::Jpeg2000 | PixelCoding::JpegLs,
            None,
        ) => {
            return Err(bad(
                "PixelData",
                "encapsulation does not match the transfer syntax",
            ));
        }
        (PixelCoding::Native, None) => {
            let b = f.data.get(el.value.clone()).unwrap_or_default();
            if (b.len() as u64) < need {
                return Err(DicomError::PixelDataShort {
                    got: b.len() as u64,
                    need,
                });
            }
            native_samples(b, img, f.encoding.big, img.planar)?
        }
    };
    if img.bits_allocated == 8 && img.samples == 3 && img.photometric.starts_with("YBR_FULL") {
        ybr_to_rgb(&mut out);
    }
    Ok(out)
}

/// Native bytes (already bounds-checked) to samples in pixel-interleaved order.
fn native_samples(b: &[u8], img: &Image, big: bool, planar: bool) -> Result<Vec<f64>, DicomError> {
    let n = img.n_samples().unwrap_or(0) as usize;
    let width = usize::from(img.bits_allocated / 8);
    let get = |i: usize| -> u32 {
        match img.bits_allocated {
            1 => u32::from(b.get(i / 8).map_or(0, |x| (x >> (i % 8)) & 1)),
            8 => u32::from(b.get(i).copied().unwrap_or(0)),
            _ => {
                let s = b
                    .get(i * width..(i + 1) * width)
                    .unwrap_or(&[0; 4][..width]);
                let mut v = 0u32;
                for k in 0..width {
                    let byte = if big { s[k] } else { s[width - 1 - k] };
                    v = (v << 8) | u32::from(byte);
                }
                v
            }
        }
    };
    let mut out = Vec::with_capacity(n);
    if img.subsampled() {
        // Y0 Y1 Cb Cr per pair of pixels (PS3.3 C.7.6.3.1.2).
        for pair in 0..n / 6 {
            let q = |k: usize| img.value(get(pair * 4 + k));
            let (cb, cr) = (q(2), q(3));
            out.extend([q(0), cb, cr, q(1), cb, cr]);
        }
        return Ok(out);
    }
    let spp = img.samples;
    if img.bits_allocated == 16 && (spp == 1 || !planar) && b.len() >= 2 * n {
        // The common case (16-bit, interleaved): two bytes a sample, no index arithmetic.
        out.extend(b.chunks_exact(2).take(n).map(|c| {
            let raw = if big {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            };
            img.value(u32::from(raw))
        }));
        return Ok(out);
    }
    let frame = img.rows * img.columns;
    for i in 0..n {
        let stored = if planar && spp > 1 {
            let (fr, within) = (i / (frame * spp), i % (frame * spp));
            fr * frame * spp + (within % spp) * frame + within / spp
        } else {
            i
        };
        out.push(img.value(get(stored)));
    }
    Ok(out)
}

/// YCbCr (full range) to RGB in place, as 8-bit values rounded and clipped.
fn ybr_to_rgb(v: &mut [f64]) {
    for px in v.chunks_exact_mut(3) {
        let (y, cb, cr) = (px[0] as f32, px[1] as f32 - 128.0, px[2] as f32 - 128.0);
        let r = y + 1.402 * cr;
        let g = y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr;
        let b = y + 1.772 * cb;
        for (o, x) in px.iter_mut().zip([r, g, b]) {
            *o = f64::from((x + 0.5).floor().clamp(0.0, 255.0));
        }
    }
}
