//! What the adapter test files share.

use std::path::Path;

use bomdata_ingest::sink::MemSink;
use bomdata_ingest::{Pseudonymizer, Source, Unit, UnitContext};

/// Plans `root` with `source` and converts every unit into memory under a fixed test key;
/// returns the units, the sink and the per-unit errors (unit id, message).
pub fn ingest(
    source: &dyn Source,
    root: &Path,
    keep_identity: bool,
    chunk_seconds: f64,
) -> (Vec<Unit>, MemSink, Vec<(String, String)>) {
    let units = source.plan(root).unwrap();
    let pseudonymizer = Pseudonymizer::new(b"test key".to_vec());
    let ctx = UnitContext {
        keep_identity,
        chunk_seconds,
        ..UnitContext::new(root, source.name(), &pseudonymizer)
    };
    let mut sink = MemSink::default();
    let mut errors = Vec::new();
    for u in &units {
        if let Err(e) = source.convert(u, &ctx, &mut sink) {
            errors.push((u.id.clone(), e.to_string()));
        }
    }
    (units, sink, errors)
}
