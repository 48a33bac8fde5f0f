//! Stored members: their names and the decoding of `.zst` members.
//!
//! A member is stored as `<key>.<field>.<ext>` in the tar and listed in the index as
//! `<field>.<ext>`; with member compression the stored bytes are one zstd frame and the name
//! gets [`ZSTD_SUFFIX`]. Every reader (the shard reader, the loader) decodes members here.

use std::borrow::Cow;
use std::io;

/// The suffix of a zstd-compressed member name.
pub const ZSTD_SUFFIX: &str = ".zst";

/// A stored member name without its [`ZSTD_SUFFIX`], and whether it had one.
///
/// ```
/// use bomdata_shard::member::logical_name;
/// assert_eq!(logical_name("x.npy.zst"), ("x.npy", true));
/// assert_eq!(logical_name("meta.json"), ("meta.json", false));
/// ```
pub fn logical_name(stored: &str) -> (&str, bool) {
    match stored.strip_suffix(ZSTD_SUFFIX) {
        Some(plain) => (plain, true),
        None => (stored, false),
    }
}

/// The decompressed size a zstd frame records in its header, if it records one.
pub fn frame_size(src: &[u8]) -> Option<u64> {
    zstd::zstd_safe::get_frame_content_size(src).ok().flatten()
}

/// Decompresses a zstd member (a sequence of frames) into `out`, cleared first, streaming.
pub fn decode_zstd(src: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    let mut dec = zstd::stream::read::Decoder::with_buffer(src)?;
    io::copy(&mut dec, out)?;
    Ok(())
}

/// The bytes of a stored member: borrowed when plain, decompressed when `stored_name` ends in
/// [`ZSTD_SUFFIX`].
pub fn decode<'a>(stored_name: &str, data: &'a [u8]) -> io::Result<Cow<'a, [u8]>> {
    if logical_name(stored_name).1 {
        let mut out = Vec::new();
        decode_zstd(data, &mut out)?;
        Ok(Cow::Owned(out))
    } else {
        Ok(Cow::Borrowed(data))
    }
}

/// Largest recorded frame size [`MemberDecoder::decode_into`] decodes in one call; larger (or
/// unrecorded) sizes stream.
const ONE_CALL_MAX: u64 = 1 << 34;

/// More than any zstd frame expands (an RLE block: 4 bytes for at most 128 KiB, 32768:1): a
/// frame recording a larger size than its bytes can decode to is not believed, and streams (its
/// buffer then grows only as data arrives).
const MAX_RATIO: u64 = 1 << 16;

/// A reusable zstd decoding context for `.zst` members (one per reader thread).
#[derive(Default)]
pub struct MemberDecoder {
    dec: Option<zstd::bulk::Decompressor<'static>>,
}

impl std::fmt::Debug for MemberDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberDecoder")
            .field("ready", &self.dec.is_some())
            .finish()
    }
}

impl MemberDecoder {
    /// A decoder; its zstd context is made on first use.
    pub fn new() -> Self {
        Self::default()
    }

    fn context(&mut self) -> io::Result<&mut zstd::bulk::Decompressor<'static>> {
        if self.dec.is_none() {
            self.dec = Some(zstd::bulk::Decompressor::new()?);
        }
        self.dec
            .as_mut()
            .ok_or_else(|| io::Error::other("zstd context"))
    }

    /// Decompresses a zstd member into `out` (cleared first): in one call with the reused
    /// context when the frame records its size, else streaming.
    pub fn decode_into(&mut self, src: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if let Some(size) = frame_size(src)
            && size <= ONE_CALL_MAX
            && size <= (src.len() as u64).saturating_mul(MAX_RATIO)
        {
            out.clear();
            out.reserve(size as usize);
            self.context()?.decompress_to_buffer(src, out)?;
            return Ok(());
        }
        decode_zstd(src, out)
    }

    /// Decompresses a zstd member into `dst` with the reused context; returns the bytes
    /// written (an error when `dst` is too small).
    pub fn decode_to_slice(&mut self, src: &[u8], dst: &mut [u8]) -> io::Result<usize> {
        self.context()?.decompress_to_buffer(src, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plain_and_zstd() -> io::Result<()> {
        let data = b"0123456789".repeat(100);
        let z = zstd::bulk::compress(&data, 3)?;
        assert_eq!(&*decode("x.npy", &data)?, &data[..]);
        assert_eq!(&*decode("x.npy.zst", &z)?, &data[..]);
        let mut d = MemberDecoder::new();
        let mut out = vec![1, 2, 3];
        d.decode_into(&z, &mut out)?;
        assert_eq!(out, data);
        let mut dst = vec![0u8; data.len()];
        assert_eq!(d.decode_to_slice(&z, &mut dst)?, data.len());
        assert_eq!(dst, data);
        Ok(())
    }

    #[test]
    fn a_frame_claiming_more_than_its_bytes_hold_is_not_believed() {
        // Magic, a single-segment header with an 8-byte content size of 8 GiB, one RLE block
        // of 3 bytes.
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
        z.extend_from_slice(&(1u64 << 33).to_le_bytes());
        z.extend_from_slice(&[0x1b, 0, 0, b'a']);
        assert_eq!(frame_size(&z), Some(1 << 33));
        let mut out = Vec::new();
        let _ = MemberDecoder::new().decode_into(&z, &mut out);
        assert!(out.capacity() < 1 << 20, "{}", out.capacity());
    }
}
