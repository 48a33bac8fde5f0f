//! `bomdata shard --tokens` end to end.
