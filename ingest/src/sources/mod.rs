//! Source adapters, one module per layout.

use crate::Source;

/// Every adapter compiled in, by name.
pub fn all() -> Vec<Box<dyn Source>> {
    vec![]
}

/// The adapter of that name.
pub fn by_name(name: &str) -> Option<Box<dyn Source>> {
    all().into_iter().find(|s| s.name() == name)
}
