//! `bomdata sources`.

use std::path::PathBuf;

use bomdata_ingest::registry::Registry;
use bomdata_ingest::sources;

/// Arguments of `bomdata sources`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A registry file instead of the built-in datasets.toml.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Status of a registry entry in this build.
pub fn status(entry: &bomdata_ingest::registry::Entry) -> &'static str {
    if !entry.planned && sources::by_name(&entry.adapter).is_some() {
        "supported"
    } else {
        "planned"
    }
}

/// Runs `bomdata sources`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let registry = match &a.registry {
        Some(p) => Registry::load(p)?,
        None => Registry::builtin()?,
    };
    if a.json {
        let list: Vec<serde_json::Value> = registry
            .entries
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let serde_json::Value::Object(m) = &mut v {
                    m.insert("status".into(), status(e).into());
                }
                v
            })
            .collect();
        super::print_json(&serde_json::Value::Array(list), false)?;
    } else {
        outln!(
            "{:<18} {:<10} {:<12} {:<11} {}",
            "SOURCE",
            "STATUS",
            "ADAPTER",
            "ACCESS",
            "MODALITIES"
        );
        for e in &registry.entries {
            let mods: Vec<&str> = e.modality.iter().map(|m| m.as_str()).collect();
            outln!(
                "{:<18} {:<10} {:<12} {:<11} {}",
                e.id,
                status(e),
                e.adapter,
                format!("{:?}", e.access).to_lowercase(),
                mods.join(",")
            );
        }
    }
    Ok(0)
}
