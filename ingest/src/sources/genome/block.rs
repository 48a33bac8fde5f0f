//! Window blocks (`genome/2`): consecutive windows of one sequence and one split gathered into
//! one canonical sample (bases concatenated, masks packed over the concatenation, per-window
//! metadata as columns of `meta.json`).

use bomdata_schemas::genome::{BLOCK_BASES, WindowBlock};
use bomdata_shard::npy;

use super::windows::Window;

/// The windows gathered so far.
#[derive(Default)]
pub struct BlockBuf {
    /// Columns of the windows held.
    pub meta: Option<WindowBlock>,
    /// Index of the next window of the sequence.
    pub next_index: u64,
    seq: Vec<u8>,
    softmask: Vec<u8>,
    nmask: Vec<u8>,
    track: Option<Vec<f32>>,
    labels: Option<Vec<u8>>,
}

/// The members of a full block, ready for a sample.
pub struct BlockData {
    /// Columns and shared fields.
    pub meta: WindowBlock,
    /// `seq.txt` bytes.
    pub seq: Vec<u8>,
    /// `softmask.npy` (encoded).
    pub softmask: Vec<u8>,
    /// `nmask.npy` (encoded).
    pub nmask: Vec<u8>,
    /// `track.npy` (encoded), when a track is attached.
    pub track: Option<Vec<u8>>,
    /// `labels.npy` (encoded), when labels are attached.
    pub labels: Option<Vec<u8>>,
}

/// Appends the first `n` bits of `src` (little bit order) after the first `at` bits of `dst`.
fn append_bits(dst: &mut Vec<u8>, at: usize, src: &[u8], n: usize) {
    let nbytes = n.div_ceil(8);
    let src = &src[..nbytes.min(src.len())];
    if at.is_multiple_of(8) {
        dst.truncate(at / 8);
        dst.extend_from_slice(src);
    } else {
        let sh = at % 8;
        dst.truncate(at.div_ceil(8));
        for &b in src {
            if let Some(last) = dst.last_mut() {
                *last |= b << sh;
            }
            dst.push(b >> (8 - sh));
        }
    }
    dst.truncate((at + n).div_ceil(8));
    // bits past the end stay zero
    let rem = (at + n) % 8;
    if rem != 0
        && let Some(last) = dst.last_mut()
    {
        *last &= (1u8 << rem) - 1;
    }
}

impl BlockBuf {
    /// Whether the next window (of split `split`) must start a new block.
    pub fn must_flush(&self, split: &str) -> bool {
        self.meta
            .as_ref()
            .is_some_and(|m| m.split != split || self.seq.len() as u64 >= BLOCK_BASES)
    }

    /// Adds window `w`; `fresh` makes the block's shared fields when it starts.
    pub fn push(&mut self, w: &Window, fresh: impl FnOnce(u64) -> WindowBlock) {
        let first = self.next_index;
        let meta = self.meta.get_or_insert_with(|| fresh(first));
        self.next_index += 1;
        let at = self.seq.len();
        meta.push_window(
            w.start,
            w.seq.len() as u64,
            w.strand,
            w.n_count,
            w.lowercase,
        );
        append_bits(&mut self.softmask, at, &w.softmask, w.seq.len());
        append_bits(&mut self.nmask, at, &w.nmask, w.seq.len());
        self.seq.extend_from_slice(&w.seq);
        if let Some(t) = &w.track {
            self.track.get_or_insert_with(Vec::new).extend_from_slice(t);
        }
        if let Some(l) = &w.labels {
            self.labels
                .get_or_insert_with(Vec::new)
                .extend_from_slice(l);
        }
    }

    /// The block held (if any), its buffers handed over; the window count goes on.
    pub fn take(&mut self) -> Option<BlockData> {
        let meta = self.meta.take()?;
        let n = self.seq.len();
        let data = BlockData {
            softmask: npy::encode_u8(&[self.softmask.len()], &self.softmask),
            nmask: npy::encode_u8(&[self.nmask.len()], &self.nmask),
            track: self.track.take().map(|t| npy::encode_f32(&[n], &t)),
            labels: self.labels.take().map(|l| npy::encode_u8(&[n], &l)),
            seq: std::mem::take(&mut self.seq),
            meta,
        };
        self.softmask.clear();
        self.nmask.clear();
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    use super::append_bits;

    #[test]
    fn bits_append_at_any_offset() {
        let bits = |v: &[u8], n: usize| {
            (0..n)
                .map(|i| (v[i / 8] >> (i % 8)) & 1)
                .collect::<Vec<_>>()
        };
        let a = [0b1011_0101u8, 0b0000_0011];
        let b = [0b0110_1101u8, 0b1];
        for (na, nb) in [(10usize, 9usize), (8, 9), (3, 1), (16, 7), (1, 16)] {
            let mut d = Vec::new();
            append_bits(&mut d, 0, &a, na.min(16));
            append_bits(&mut d, na, &b, nb);
            let mut want = bits(&a, na);
            want.extend(bits(&b, nb.min(16)));
            assert_eq!(bits(&d, na + nb), want, "{na} {nb}");
            assert_eq!(d.len(), (na + nb).div_ceil(8));
        }
    }
}
