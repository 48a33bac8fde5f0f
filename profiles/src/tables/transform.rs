//! The transforms of table values on their way into training shards, and the `tables` profile
//! that chooses them (`--profile tables --param methylation=m_value --param microbiome=clr`).
//!
//! - methylation: `beta` (as ingested) or `m_value`: M = log2(β / (1 − β)), β clamped to
//!   [`beta_epsilon`, 1 − `beta_epsilon`] first (default 1e-6, so β = 0 or 1 stays finite);
//! - microbiome: `counts` (as ingested), `relative` (x / Σx over the row's present features) or
//!   `clr`: ln(x + p) − mean over the row's present features of ln(x + p), with the pseudocount
//!   p = `pseudocount` (default 1, added to every count, zeros included);
//! - proteomics (Olink NPX) and clinical values are carried as they are (NPX is already log2).
//!
//! NA values (NaN) stay NaN and are left out of the row sums and means. Every other profile
//! carries tables with the defaults (beta, counts).

use bomdata_shard::Sample;

use crate::profile::{Applied, Params, Profile, check_params};
use crate::{Error, Result};

use super::read::{Layout, Row};

/// Methylation values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Methylation {
    /// Beta as ingested.
    Beta,
    /// log2(β / (1 − β)), β clamped to [ε, 1 − ε].
    MValue {
        /// ε.
        epsilon: f64,
    },
}

/// Microbiome values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Microbiome {
    /// Counts as ingested.
    Counts,
    /// Relative abundance.
    Relative,
    /// Centred log-ratio with a pseudocount.
    Clr {
        /// Added to every count before the log.
        pseudocount: f64,
    },
}

/// The transforms of every table modality.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transforms {
    /// Methylation.
    pub methylation: Methylation,
    /// Microbiome.
    pub microbiome: Microbiome,
}

impl Default for Transforms {
    fn default() -> Self {
        Transforms {
            methylation: Methylation::Beta,
            microbiome: Microbiome::Counts,
        }
    }
}

const NAME: &str = "tables";
const KNOWN: [&str; 5] = [
    "methylation",
    "microbiome",
    "pseudocount",
    "beta_epsilon",
    "proteomics",
];

fn bad(param: &str, value: &serde_json::Value, expected: &'static str) -> Error {
    Error::BadParam {
        profile: NAME.into(),
        param: param.into(),
        value: value.clone(),
        expected,
    }
}

fn number(params: &Params, key: &str, default: f64, expected: &'static str) -> Result<f64> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| bad(key, v, expected)),
    }
}

impl Transforms {
    /// The transforms chosen by the `tables` profile's parameters.
    pub fn from_params(params: &Params) -> Result<Transforms> {
        check_params(NAME, params, &KNOWN)?;
        let pseudocount = number(params, "pseudocount", 1.0, "a positive number")?;
        let epsilon = number(params, "beta_epsilon", 1e-6, "a positive number below 0.5")?;
        if epsilon >= 0.5 {
            return Err(bad(
                "beta_epsilon",
                &epsilon.into(),
                "a positive number below 0.5",
            ));
        }
        let text = |k: &str| params.get(k).map(|v| (v, v.as_str().unwrap_or("")));
        let methylation = match text("methylation") {
            None | Some((_, "beta")) => Methylation::Beta,
            Some((_, "m_value")) => Methylation::MValue { epsilon },
            Some((v, _)) => return Err(bad("methylation", v, "beta or m_value")),
        };
        let microbiome = match text("microbiome") {
            None | Some((_, "counts")) => Microbiome::Counts,
            Some((_, "relative")) => Microbiome::Relative,
            Some((_, "clr")) => Microbiome::Clr { pseudocount },
            Some((v, _)) => return Err(bad("microbiome", v, "counts, relative or clr")),
        };
        match text("proteomics") {
            None | Some((_, "npx")) => {}
            Some((v, _)) => return Err(bad("proteomics", v, "npx")),
        }
        Ok(Transforms {
            methylation,
            microbiome,
        })
    }

    /// The transforms as recorded in the training manifest (profile parameters, `tables`).
    pub fn to_json(&self) -> serde_json::Value {
        let methylation = match self.methylation {
            Methylation::Beta => serde_json::json!({"value": "beta"}),
            Methylation::MValue { epsilon } => serde_json::json!({
                "value": "m_value", "formula": "log2(beta / (1 - beta))",
                "beta_clamp": [epsilon, 1.0 - epsilon]}),
        };
        let microbiome = match self.microbiome {
            Microbiome::Counts => serde_json::json!({"value": "count"}),
            Microbiome::Relative => serde_json::json!({"value": "relative_abundance"}),
            Microbiome::Clr { pseudocount } => serde_json::json!({
                "value": "clr", "formula": "ln(x + p) - mean(ln(x + p))",
                "pseudocount": pseudocount}),
        };
        serde_json::json!({
            "methylation": methylation,
            "microbiome": microbiome,
            "proteomics": {"value": "npx"},
            "clinical_table": {"value": "as ingested (canonical units)"},
        })
    }

    /// The value kind a modality's rows hold after [`Transforms::apply`].
    pub fn value_kind(&self, layout: &Layout) -> String {
        match (layout.modality.as_str(), self.methylation, self.microbiome) {
            ("methylation", Methylation::MValue { .. }, _) if layout.value == "beta" => {
                "m_value".into()
            }
            ("microbiome", _, Microbiome::Relative) => "relative_abundance".into(),
            ("microbiome", _, Microbiome::Clr { .. }) => "clr".into(),
            _ => layout.value.clone(),
        }
    }

    /// Transforms the values of one row of a modality in place.
    pub fn apply(&self, layout: &Layout, row: &mut Row) {
        match layout.modality.as_str() {
            "methylation" => {
                if let (Methylation::MValue { epsilon }, "beta") =
                    (self.methylation, layout.value.as_str())
                {
                    for v in &mut row.values {
                        *v = m_value(*v, epsilon);
                    }
                }
            }
            "microbiome" => match self.microbiome {
                Microbiome::Counts => {}
                Microbiome::Relative => relative(&mut row.values),
                Microbiome::Clr { pseudocount } => clr(&mut row.values, pseudocount),
            },
            _ => {}
        }
    }
}

/// log2(β / (1 − β)) with β clamped to [ε, 1 − ε]; NaN stays NaN.
pub fn m_value(beta: f32, epsilon: f64) -> f32 {
    if beta.is_nan() {
        return f32::NAN;
    }
    let b = f64::from(beta).clamp(epsilon, 1.0 - epsilon);
    (b / (1.0 - b)).log2() as f32
}

/// x / Σx over the finite values (all NaN when the sum is 0).
pub fn relative(values: &mut [f32]) {
    let s: f64 = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v))
        .sum();
    for v in values.iter_mut().filter(|v| v.is_finite()) {
        *v = if s > 0.0 {
            (f64::from(*v) / s) as f32
        } else {
            f32::NAN
        };
    }
}

/// ln(x + p) − mean(ln(x + p)) over the finite values.
pub fn clr(values: &mut [f32], pseudocount: f64) {
    let logs: Vec<Option<f64>> = values
        .iter()
        .map(|&v| v.is_finite().then(|| (f64::from(v) + pseudocount).ln()))
        .collect();
    let n = logs.iter().flatten().count();
    if n == 0 {
        return;
    }
    let mean = logs.iter().flatten().sum::<f64>() / n as f64;
    for (v, l) in values.iter_mut().zip(logs) {
        if let Some(l) = l {
            *v = (l - mean) as f32;
        }
    }
}

/// The `tables` profile: canonical samples unchanged (as `canonical`), tables carried with the
/// transforms of its parameters.
#[derive(Clone, Debug)]
pub struct TablesProfile {
    /// The chosen transforms.
    pub transforms: Transforms,
    params: Params,
}

impl TablesProfile {
    /// The profile with parameters (see the module docs).
    pub fn new(params: &Params) -> Result<Self> {
        Ok(TablesProfile {
            transforms: Transforms::from_params(params)?,
            params: params.clone(),
        })
    }

    /// The transforms a build with profile `name` and `params` applies to tables: the `tables`
    /// profile's, else the defaults.
    pub fn transforms_of(name: &str, params: &serde_json::Value) -> Transforms {
        if name != NAME {
            return Transforms::default();
        }
        params
            .as_object()
            .and_then(|p| {
                let mut p = p.clone();
                p.retain(|k, _| KNOWN.contains(&k.as_str()));
                Transforms::from_params(&p).ok()
            })
            .unwrap_or_default()
    }
}

impl Profile for TablesProfile {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "canonical samples unchanged; omics and clinical tables with transforms \
         (methylation=beta|m_value, microbiome=counts|relative|clr, pseudocount, beta_epsilon)"
    }
    fn params(&self) -> serde_json::Value {
        let mut m = self.params.clone();
        let t = &self.transforms;
        m.insert(
            "methylation".into(),
            match t.methylation {
                Methylation::Beta => "beta",
                Methylation::MValue { .. } => "m_value",
            }
            .into(),
        );
        m.insert(
            "microbiome".into(),
            match t.microbiome {
                Microbiome::Counts => "counts",
                Microbiome::Relative => "relative",
                Microbiome::Clr { .. } => "clr",
            }
            .into(),
        );
        m.entry("pseudocount").or_insert(1.0.into());
        m.entry("beta_epsilon").or_insert(1e-6.into());
        m.entry("proteomics").or_insert("npx".into());
        serde_json::Value::Object(m)
    }
    fn apply(&self, sample: Sample) -> Result<Applied> {
        Ok(Applied {
            samples: vec![sample],
            rejected: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms() {
        assert!((m_value(0.5, 1e-6)).abs() < 1e-7);
        assert!((m_value(0.8, 1e-6) - 2.0).abs() < 1e-6);
        assert!(m_value(1.0, 1e-6).is_finite() && m_value(f32::NAN, 1e-6).is_nan());
        let mut v = [1.0, 3.0, f32::NAN];
        relative(&mut v);
        assert_eq!(&v[..2], &[0.25, 0.75]);
        let mut v = [0.0, 3.0, f32::NAN];
        clr(&mut v, 1.0);
        let l2 = 4f64.ln() / 2.0;
        assert!((f64::from(v[0]) + l2).abs() < 1e-6 && (f64::from(v[1]) - l2).abs() < 1e-6);
        assert!(v[2].is_nan());
        let mut p = Params::new();
        p.insert("microbiome".into(), "clr".into());
        p.insert("pseudocount".into(), 0.5.into());
        let t = Transforms::from_params(&p).unwrap();
        assert_eq!(t.microbiome, Microbiome::Clr { pseudocount: 0.5 });
        p.insert("methylation".into(), "x".into());
        assert!(Transforms::from_params(&p).is_err());
    }
}
