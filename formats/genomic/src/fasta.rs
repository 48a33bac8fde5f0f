//! FASTA: a sequential reader, `.fai` indexes (built, read, checked) and indexed random access
//! over plain, gzip and BGZF files.
//!
//! Sequences are returned as stored: soft-masked (lowercase) bases stay lowercase.

pub mod index;
pub mod indexed;
pub mod reader;

pub use index::{Index, IndexRecord, Unnamed};
pub use indexed::{FaiStatus, IndexedFasta};
pub use reader::{Reader, Record};

/// Base composition of a sequence, from a byte histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Composition {
    /// Number of bases.
    pub length: u64,
    /// G or C of either case.
    pub gc: u64,
    /// A, C, G or T of either case.
    pub acgt: u64,
    /// N or n.
    pub n: u64,
    /// Lowercase letters (any).
    pub lowercase: u64,
}

impl Composition {
    /// Counts the composition of `seq`.
    pub fn of(seq: &[u8]) -> Self {
        let mut c = Self::default();
        c.add(seq);
        c
    }

    /// Adds the composition of `seq`.
    pub fn add(&mut self, seq: &[u8]) {
        let mut h = [0u64; 256];
        // four interleaved histograms avoid store-to-load stalls on runs of one letter
        let mut h4 = [[0u32; 256]; 4];
        for big in seq.chunks(1 << 30) {
            let mut it = big.chunks_exact(4);
            for q in &mut it {
                h4[0][q[0] as usize] += 1;
                h4[1][q[1] as usize] += 1;
                h4[2][q[2] as usize] += 1;
                h4[3][q[3] as usize] += 1;
            }
            for &b in it.remainder() {
                h[b as usize] += 1;
            }
            for hh in &mut h4 {
                for (t, v) in h.iter_mut().zip(hh.iter_mut()) {
                    *t += u64::from(*v);
                    *v = 0;
                }
            }
        }
        let g = |b: u8| h[b as usize];
        self.length += seq.len() as u64;
        self.gc += g(b'G') + g(b'g') + g(b'C') + g(b'c');
        self.acgt += g(b'A') + g(b'a') + g(b'T') + g(b't') + g(b'G') + g(b'g') + g(b'C') + g(b'c');
        self.n += g(b'N') + g(b'n');
        self.lowercase += (b'a'..=b'z').map(g).sum::<u64>();
    }

    /// GC fraction over A/C/G/T (NaN when there are none).
    pub fn gc_fraction(&self) -> f64 {
        if self.acgt == 0 {
            f64::NAN
        } else {
            self.gc as f64 / self.acgt as f64
        }
    }
}
