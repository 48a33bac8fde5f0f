//! Per-base masks stored beside DNA token ids, so any model's case and N policy can be
//! reproduced from one shard (DOMAIN.md §5.2 `lowercase_mask`, `n_mask`).
//!
//! Masks are bit-packed least-significant bit first, as numpy
//! `np.packbits(mask, bitorder="little")`: base `i` is bit `i % 8` of byte `i / 8`.

fn pack_bits(seq: &[u8], pred: impl Fn(u8) -> bool) -> Vec<u8> {
    seq.chunks(8)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u8, |acc, (i, &b)| acc | (u8::from(pred(b)) << i))
        })
        .collect()
}

/// Bits set where the base is lower case (soft-masked).
pub fn lowercase_mask(seq: &[u8]) -> Vec<u8> {
    pack_bits(seq, |b| b.is_ascii_lowercase())
}

/// Bits set where the base is `N` or `n`.
pub fn n_mask(seq: &[u8]) -> Vec<u8> {
    pack_bits(seq, |b| b == b'N' || b == b'n')
}

/// Whether bit `i` of a packed mask is set (false past its end).
pub fn mask_bit(mask: &[u8], i: usize) -> bool {
    mask.get(i / 8).is_some_and(|byte| byte >> (i % 8) & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_bits() {
        let seq = b"ACgtNnAAAc";
        assert_eq!(lowercase_mask(seq), [0b0010_1100, 0b10]);
        assert_eq!(n_mask(seq), [0b0011_0000, 0]);
        assert!(mask_bit(&lowercase_mask(seq), 9));
        assert!(!mask_bit(&lowercase_mask(seq), 8));
        assert!(!mask_bit(&lowercase_mask(seq), 80));
    }
}
