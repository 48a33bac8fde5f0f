//! Clinical tables and biomarkers: a per-source mapping (column → canonical variable, type, unit,
//! range), unit conversion, out-of-range flags (never clipping), and text records with
//! identifiers scrubbed ([`Scrubber`]).
//!
//! Mapping file: delimited text with the header
//! `column  variable  type  unit  canonical_unit  min  max  levels`, `type` one of `numeric`,
//! `categorical`, `date`, `text`, `identifier`; `levels` recodes categories as `AD=dementia|NL=CN`.
//! The variables named `subject_id` and `visit` locate the subject and visit columns.

use std::io;

use crate::{Table, TableError};

/// Type of a mapped variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A number, converted to the canonical unit.
    Numeric,
    /// A category, recoded by `levels`.
    Categorical,
    /// A date, shifted per subject.
    Date,
    /// Free text, scrubbed.
    Text,
    /// An identifier: used to find the subject, never written.
    Identifier,
}

/// One mapping line.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    /// Source column.
    pub column: String,
    /// Canonical variable name.
    pub variable: String,
    /// Type.
    pub kind: Kind,
    /// Source unit.
    pub unit: String,
    /// Canonical unit.
    pub canonical_unit: String,
    /// Plausible range in the canonical unit.
    pub range: Option<(f64, f64)>,
    /// Category recoding.
    pub levels: Vec<(String, String)>,
}

/// Reads a mapping table.
pub fn read_mapping(t: &Table) -> io::Result<Vec<Variable>> {
    let col = |n: &str| t.column_index(n).map(|i| t.text_column(i));
    let need = |n: &str| {
        col(n)
            .ok_or_else(|| TableError::new(&t.name, format!("mapping has no {n} column")).into_io())
    };
    let (c, v, k) = (need("column")?, need("variable")?, need("type")?);
    let (u, cu, lo, hi, lv) = (
        col("unit"),
        col("canonical_unit"),
        col("min"),
        col("max"),
        col("levels"),
    );
    let get = |x: &Option<Vec<Option<String>>>, r: usize| {
        x.as_ref().and_then(|x| x[r].clone()).unwrap_or_default()
    };
    let mut out = Vec::new();
    for r in 0..t.num_rows() {
        let line = t.source_rows.get(r).copied().unwrap_or(0);
        let kind = match k[r].as_deref().unwrap_or("") {
            "numeric" => Kind::Numeric,
            "categorical" => Kind::Categorical,
            "date" => Kind::Date,
            "text" => Kind::Text,
            "identifier" => Kind::Identifier,
            other => {
                return Err(TableError::new(&t.name, format!("unknown type {other:?}"))
                    .at_row(line)
                    .at_column("type")
                    .into_io());
            }
        };
        let num = |s: String, what: &str| -> io::Result<Option<f64>> {
            if s.is_empty() {
                return Ok(None);
            }
            crate::table::parse_f64(&s).map(Some).ok_or_else(|| {
                TableError::new(&t.name, format!("expected a number, found {s:?}"))
                    .at_row(line)
                    .at_column(what)
                    .into_io()
            })
        };
        let range = match (num(get(&lo, r), "min")?, num(get(&hi, r), "max")?) {
            (Some(a), Some(b)) => Some((a, b)),
            (None, None) => None,
            _ => {
                return Err(TableError::new(&t.name, "give both min and max or neither")
                    .at_row(line)
                    .into_io());
            }
        };
        let levels = get(&lv, r)
            .split('|')
            .filter(|s| !s.is_empty())
            .filter_map(|p| {
                p.split_once('=')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect();
        let unit = get(&u, r);
        let mut canonical_unit = get(&cu, r);
        if canonical_unit.is_empty() {
            canonical_unit = unit.clone();
        }
        if kind == Kind::Numeric && unit_factor(&unit, &canonical_unit).is_none() {
            return Err(TableError::new(
                &t.name,
                format!("cannot convert {unit:?} to {canonical_unit:?}"),
            )
            .at_row(line)
            .at_column("unit")
            .into_io());
        }
        out.push(Variable {
            column: c[r].clone().unwrap_or_default(),
            variable: v[r].clone().unwrap_or_default(),
            kind,
            unit,
            canonical_unit,
            range,
            levels,
        });
    }
    Ok(out)
}

fn mass_exp(s: &str) -> Option<i32> {
    Some(match s {
        "g" | "mol" => 0,
        "mg" | "mmol" => -3,
        "ug" | "µg" | "μg" | "mcg" | "umol" | "µmol" | "μmol" => -6,
        "ng" | "nmol" => -9,
        "pg" | "pmol" => -12,
        "fg" => -15,
        _ => return None,
    })
}

fn volume_exp(s: &str) -> Option<i32> {
    Some(match s {
        "L" | "l" => 0,
        "dL" | "dl" => -1,
        "mL" | "ml" => -3,
        "uL" | "µL" | "μL" | "ul" => -6,
        _ => return None,
    })
}

/// The factor converting a value in `from` to `to` (`pg/mL` → `ng/L` is 1); `None` when they are
/// not convertible (mass vs molar, unknown units). Equal strings (including dimensionless `""`)
/// give 1.
pub fn unit_factor(from: &str, to: &str) -> Option<f64> {
    if from == to {
        return Some(1.0);
    }
    // Decimal exponent of the unit relative to g/L (or mol/L).
    let split = |u: &str| -> Option<(i32, bool)> {
        let (m, v) = u.split_once('/')?;
        Some((mass_exp(m)? - volume_exp(v)?, m.ends_with("mol")))
    };
    let (a, b) = (split(from)?, split(to)?);
    if a.1 != b.1 {
        return None;
    }
    Some(10f64.powi(a.0 - b.0))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Scrubs identifiers from text: known names and IDs, dates (shifted by a per-subject number of
/// days and written as ISO `YYYY-MM-DD`), phone numbers and long digit runs.
#[derive(Clone, Debug)]
pub struct Scrubber {
    /// Strings to remove wherever they occur (names, original IDs), matched case-insensitively.
    pub known: Vec<String>,
    /// Days added to every date (never 0).
    pub shift_days: i64,
}

/// The per-subject date shift from a keyed-hash seed: ±(1..=365) days, never 0.
pub fn shift_from_seed(seed: u64) -> i64 {
    let d = 1 + (seed % 365) as i64;
    if (seed >> 32) & 1 == 1 { d } else { -d }
}

impl Scrubber {
    /// A scrubber for one subject.
    pub fn new(known: Vec<String>, shift_days: i64) -> Self {
        let mut known: Vec<String> = known
            .into_iter()
            .flat_map(|k| {
                // A full name also hides its alphabetic parts ("Ada Lovelace" → "Ada", "Lovelace");
                // numbers are only matched whole (digit runs are scrubbed anyway).
                let mut v: Vec<String> = k
                    .split_whitespace()
                    .filter(|p| {
                        p.chars().count() >= 2
                            && p.chars()
                                .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
                    })
                    .map(|s| s.to_string())
                    .collect();
                v.push(k.trim().to_string());
                v
            })
            .filter(|s| !s.is_empty())
            .collect();
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        known.dedup();
        Scrubber {
            known,
            shift_days: if shift_days == 0 { 1 } else { shift_days },
        }
    }

    /// Shifts a date written as `YYYY-MM-DD`, `YYYY/MM/DD`, `DD/MM/YYYY`, `DD.MM.YYYY` or
    /// `MM/DD/YYYY` (when the first part cannot be a day), returning the shifted ISO date.
    pub fn shift_date(&self, s: &str) -> Option<String> {
        let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let n: Vec<i64> = parts.iter().map(|p| p.parse().unwrap_or(-1)).collect();
        let (y, m, d) = if parts[0].len() == 4 {
            (n[0], n[1], n[2])
        } else if parts[2].len() == 4 {
            if n[1] > 12 {
                (n[2], n[0], n[1])
            } else {
                (n[2], n[1], n[0])
            }
        } else {
            return None;
        };
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        let (y2, m2, d2) =
            civil_from_days(days_from_civil(y, m as u32, d as u32) + self.shift_days);
        Some(format!("{y2:04}-{m2:02}-{d2:02}"))
    }

    /// Scrubs free text: known strings first, then dates, phone numbers and digit runs, then any
    /// capitalised word directly before a redacted name (a relative sharing the surname).
    pub fn scrub(&self, text: &str) -> String {
        let mut s = text.to_string();
        for k in &self.known {
            s = replace_ci(&s, k, REDACTED);
        }
        let s = self.scrub_numbers(&s);
        redact_before_redacted(&s)
    }

    fn scrub_numbers(&self, s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let starts_number = c.is_ascii_digit()
                || ((c == '+' || c == '(') && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()));
            if !starts_number || (i > 0 && chars[i - 1].is_alphanumeric()) {
                out.push(c);
                i += 1;
                continue;
            }
            // The longest run of digits and phone/date punctuation.
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || "+()-./ ".contains(chars[j])) {
                j += 1;
            }
            while j > i && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            let run: String = chars[i..j].iter().collect();
            let digits = run.chars().filter(|c| c.is_ascii_digit()).count();
            let first_word = run.split_whitespace().next().unwrap_or("");
            if let Some(d) = self.shift_date(first_word) {
                out.push_str(&d);
                i += first_word.chars().count();
            } else if digits >= 6 {
                out.push_str("[NUMBER]");
                i = j;
            } else {
                let n = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || **c == '.')
                    .count()
                    .max(1);
                out.extend(&chars[i..i + n]);
                i += n;
            }
        }
        out
    }
}

const REDACTED: &str = "[REDACTED]";

fn redact_before_redacted(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next_redacted = words.get(i + 1).is_some_and(|n| n.starts_with(REDACTED));
        let capitalised = w.chars().next().is_some_and(|c| c.is_uppercase())
            && w.chars().all(|c| c.is_alphabetic() || c == '.');
        let title = matches!(
            *w,
            "Mr" | "Mrs" | "Ms" | "Dr" | "Mr." | "Mrs." | "Ms." | "Dr." | "Prof" | "Prof."
        );
        out.push(if next_redacted && capitalised && !title {
            REDACTED
        } else {
            w
        });
    }
    out.join(" ")
}

fn replace_ci(hay: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return hay.to_string();
    }
    let lh = hay.to_lowercase();
    let ln = needle.to_lowercase();
    if lh.len() != hay.len() {
        // Case folding changed byte lengths: fall back to an exact match.
        return hay.replace(needle, with);
    }
    let mut out = String::with_capacity(hay.len());
    let mut last = 0;
    for (pos, _) in lh.match_indices(&ln) {
        if pos < last {
            continue;
        }
        out.push_str(&hay[last..pos]);
        out.push_str(with);
        last = pos + ln.len();
    }
    out.push_str(&hay[last..]);
    out
}

/// One converted table row.
#[derive(Clone, Debug, PartialEq)]
pub struct ClinicalRecord {
    /// Original subject ID (for pseudonymisation only; never write it).
    pub subject: String,
    /// Visit label (empty when none).
    pub visit: String,
    /// Numeric variables: (variable, value in canonical unit or NaN, out of range).
    pub numeric: Vec<(String, f64, bool)>,
    /// The text record: one `variable: value` line per non-identifier variable, scrubbed.
    pub text: String,
}

/// Converts every row of a clinical table with a mapping. `scrubber_for(subject, row)` gives the
/// scrubber of that subject (names, IDs and the date shift).
pub fn convert(
    t: &Table,
    vars: &[Variable],
    scrubber_for: &dyn Fn(&str, usize) -> Scrubber,
) -> io::Result<Vec<ClinicalRecord>> {
    let idx = |v: &Variable| {
        t.column_index(&v.column).ok_or_else(|| {
            TableError::new(&t.name, format!("mapped column {:?} is absent", v.column)).into_io()
        })
    };
    let subject_var = vars
        .iter()
        .find(|v| v.variable == "subject_id")
        .ok_or_else(|| {
            TableError::new(&t.name, "mapping names no subject_id variable").into_io()
        })?;
    let subjects = t.text_column(idx(subject_var)?);
    let visits = match vars.iter().find(|v| v.variable == "visit") {
        Some(v) => Some(t.text_column(idx(v)?)),
        None => None,
    };
    let cols: Vec<Vec<Option<String>>> = vars
        .iter()
        .map(|v| idx(v).map(|i| t.text_column(i)))
        .collect::<io::Result<_>>()?;
    let mut out = Vec::with_capacity(t.num_rows());
    for r in 0..t.num_rows() {
        let line = t.source_rows.get(r).copied().unwrap_or(0);
        let Some(subject) = subjects[r].clone() else {
            return Err(TableError::new(&t.name, "subject id is missing")
                .at_row(line)
                .at_column(subject_var.column.clone())
                .into_io());
        };
        let visit = visits
            .as_ref()
            .and_then(|v| v[r].clone())
            .unwrap_or_default();
        let sc = scrubber_for(&subject, r);
        let mut numeric = Vec::new();
        let mut text = String::new();
        for (v, col) in vars.iter().zip(&cols) {
            let cell = col[r].as_deref();
            let shown: Option<String> = match v.kind {
                Kind::Identifier => None,
                Kind::Numeric => {
                    let x = match cell {
                        None => f64::NAN,
                        Some(c) => crate::table::parse_f64(c).ok_or_else(|| {
                            TableError::new(&t.name, format!("expected a number, found {c:?}"))
                                .at_row(line)
                                .at_column(v.column.clone())
                                .into_io()
                        })?,
                    };
                    let x = x * unit_factor(&v.unit, &v.canonical_unit).unwrap_or(f64::NAN);
                    let oor = v
                        .range
                        .is_some_and(|(lo, hi)| x.is_finite() && (x < lo || x > hi));
                    numeric.push((v.variable.clone(), x, oor));
                    cell.map(|_| {
                        let flag = if oor { " (out of range)" } else { "" };
                        format!("{x} {}{flag}", v.canonical_unit)
                            .trim_end()
                            .to_string()
                    })
                }
                Kind::Categorical => cell.map(|c| {
                    let rec = v
                        .levels
                        .iter()
                        .find(|(a, _)| a == c)
                        .map(|(_, b)| b.clone())
                        .unwrap_or_else(|| c.to_string());
                    sc.scrub(&rec)
                }),
                Kind::Date => cell.map(|c| {
                    sc.shift_date(c.trim())
                        .unwrap_or_else(|| "[DATE]".to_string())
                }),
                Kind::Text => cell.map(|c| sc.scrub(c)),
            };
            if let Some(s) = shown {
                text.push_str(&v.variable);
                text.push_str(": ");
                text.push_str(&s);
                text.push('\n');
            }
        }
        out.push(ClinicalRecord {
            subject,
            visit,
            numeric,
            text,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_dates() {
        assert_eq!(unit_factor("pg/mL", "ng/L"), Some(1.0));
        assert_eq!(unit_factor("ng/mL", "pg/mL"), Some(1000.0));
        assert_eq!(unit_factor("mg/dL", "g/L"), Some(0.01));
        assert_eq!(unit_factor("mg/dL", "mmol/L"), None);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            civil_from_days(days_from_civil(2000, 2, 29) + 1),
            (2000, 3, 1)
        );
        let s = Scrubber::new(vec!["Ada Lovelace".into()], 10);
        assert_eq!(s.shift_date("1815-12-10").as_deref(), Some("1815-12-20"));
        assert_eq!(s.shift_date("10/12/1815").as_deref(), Some("1815-12-20"));
        let t = s.scrub(
            "ada LOVELACE (MRN 12345678) called +44 20 7946 0958 on 10.12.1815 about 2 pills",
        );
        assert_eq!(
            t,
            "[REDACTED] (MRN [NUMBER]) called [NUMBER] on 1815-12-20 about 2 pills"
        );
    }
}
