//! The `bomdata` command.

fn main() {}
