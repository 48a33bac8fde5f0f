//! Sample keys.
//!
//! A key names one sample and is the `<key>` of its tar members `<key>.<field>.<ext>`. It is
//! built from the source, the pseudonymous subject, session, run, modality and window index, so it
//! is stable across runs and never carries an original subject ID. Keys hold only
//! `[A-Za-z0-9_-]` (no dots: WebDataset splits member names at the first dot).

use crate::Modality;

/// Parts of a sample key.
#[derive(Clone, Debug, Default)]
pub struct KeyParts<'a> {
    /// Source entry (`"ukb"`).
    pub source: &'a str,
    /// Pseudonymous subject ID.
    pub subject: &'a str,
    /// Session or visit label.
    pub session: Option<&'a str>,
    /// Run, task or acquisition label; anything else that separates two inputs of one session.
    pub run: Option<&'a str>,
    /// Modality of the sample.
    pub modality: Option<Modality>,
    /// Window or chunk index within the input.
    pub index: Option<u64>,
}

/// Replaces every character outside `[A-Za-z0-9_-]` with `-`.
///
/// ```
/// assert_eq!(bomdata_schemas::key::sanitize("ses.1/run 2"), "ses-1-run-2");
/// ```
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Builds a key: `source_subject[_session][_run][_modality][_index]`.
///
/// ```
/// use bomdata_schemas::{key::{make, KeyParts}, Modality};
/// let k = make(&KeyParts { source: "hcp", subject: "3fa2", session: Some("1"),
///     run: None, modality: Some(Modality::Smri), index: Some(0) });
/// assert_eq!(k, "hcp_3fa2_1_smri_000000");
/// ```
pub fn make(p: &KeyParts<'_>) -> String {
    let mut k = format!("{}_{}", sanitize(p.source), sanitize(p.subject));
    for part in [p.session, p.run].into_iter().flatten() {
        k.push('_');
        k.push_str(&sanitize(part));
    }
    if let Some(m) = p.modality {
        k.push('_');
        k.push_str(m.as_str());
    }
    if let Some(i) = p.index {
        k.push_str(&format!("_{i:06}"));
    }
    k
}
