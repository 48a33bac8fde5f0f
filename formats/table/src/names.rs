//! Sets of names from the input (probe IDs, feature names) for the uniqueness checks of wide
//! tables: xxh3 with a per-process random seed instead of std's SipHash, which took ~10 % of a
//! methylation ingest's CPU on EPIC's ~850k probe names (the seed keeps crafted collisions out).

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

/// A set of borrowed names with a fast seeded hash.
pub type NameSet<'a> = HashSet<&'a str, NameHash>;

/// An empty [`NameSet`] with room for `capacity` names.
pub fn name_set<'a>(capacity: usize) -> NameSet<'a> {
    HashSet::with_capacity_and_hasher(capacity, NameHash::new())
}

/// The [`BuildHasher`] of [`NameSet`]: xxh3 seeded once per set from std's random keys.
#[derive(Clone, Copy, Debug)]
pub struct NameHash(u64);

impl NameHash {
    /// A hasher builder with a random seed.
    pub fn new() -> Self {
        NameHash(std::collections::hash_map::RandomState::new().hash_one(0x6e61_6d65_u64))
    }
}

impl Default for NameHash {
    fn default() -> Self {
        Self::new()
    }
}

impl BuildHasher for NameHash {
    type Hasher = NameHasher;

    fn build_hasher(&self) -> NameHasher {
        NameHasher(self.0)
    }
}

/// The state of one hash of [`NameHash`].
#[derive(Clone, Copy, Debug)]
pub struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0 ^ u64::from(i)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_repeats() {
        let mut s = super::name_set(4);
        assert!(s.insert("cg1"));
        assert!(s.insert("cg2"));
        assert!(!s.insert("cg1"));
        assert!(s.insert("cg12"));
    }
}
