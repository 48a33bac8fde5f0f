//! `bomdata profiles`.

use bomdata_profiles::registry;

/// Arguments of `bomdata profiles`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bomdata profiles`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let all = registry::all();
    if a.json {
        let v: Vec<serde_json::Value> = all
            .iter()
            .map(|p| serde_json::json!({"name": p.name(), "description": p.description(), "params": p.params()}))
            .collect();
        super::print_json(&serde_json::Value::Array(v), false)?;
    } else {
        for p in &all {
            outln!("{:<12} {}", p.name(), p.description());
            outln!("{:<12} params: {}", "", p.params());
        }
    }
    Ok(0)
}
