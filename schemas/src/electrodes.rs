//! Standard 10-20 / 10-10 / 10-05 electrode positions and the old 10-20 names, shipped once as
//! data (`schemas/data/standard_1005.tsv`) for the ingest and the EEG profiles.
//!
//! Source: MNE-Python's `fsaverage_1005/1010/1020.tsv` montages (BSD-3-Clause), converted to
//! millimetres. Frame [`FRAME`]: fsaverage MRI surface RAS — x right, y anterior, z superior,
//! origin at the fsaverage head's RAS origin (Cz ≈ (−0.1, −22.4, 104.8) mm). Labels are matched
//! case-insensitively. The old names T3/T4/T5/T6 are not in the table: fold them first with
//! [`fold_old_name`]. A1/A2/M1/M2 have no template position (they are ears and mastoids, not
//! 10-05 sites) and come back as `None`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The smallest standard system a position belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum System {
    /// International 10-20 (21 electrodes).
    S1020,
    /// 10-10 (adds 49).
    S1010,
    /// 10-05 (adds 266).
    S1005,
    /// Fiducial landmark (LPA, RPA, NAS, INI).
    Fiducial,
}

/// Name of the frame the positions are in, for `eeg/1` `coord_frame`.
pub const FRAME: &str = "fsaverage_1005_mm";

const TABLE: &str = include_str!("../data/standard_1005.tsv");

/// The 10-10 name of an old 10-20 name (`T3`→`T7`, `T4`→`T8`, `T5`→`P7`, `T6`→`P8`; the same
/// sites in the 10-05 template); any other upper-case name unchanged.
///
/// ```
/// use bomdata_schemas::electrodes::fold_old_name;
/// assert_eq!(fold_old_name("T3"), "T7");
/// assert_eq!(fold_old_name("CZ"), "CZ");
/// ```
pub fn fold_old_name(name: &str) -> &str {
    match name {
        "T3" => "T7",
        "T4" => "T8",
        "T5" => "P7",
        "T6" => "P8",
        _ => name,
    }
}

fn table() -> &'static HashMap<String, ([f64; 3], System)> {
    static T: OnceLock<HashMap<String, ([f64; 3], System)>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m = HashMap::new();
        for line in TABLE.lines().filter(|l| !l.starts_with('#')).skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 5 {
                continue;
            }
            let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            let sys = match f[4] {
                "1020" => System::S1020,
                "1010" => System::S1010,
                "1005" => System::S1005,
                _ => System::Fiducial,
            };
            m.insert(
                f[0].to_ascii_uppercase(),
                ([num(f[1]), num(f[2]), num(f[3])], sys),
            );
        }
        m
    })
}

/// Position in millimetres of a standard electrode name (case-insensitive), if it has one.
///
/// ```
/// use bomdata_schemas::electrodes::{position, system, System};
/// let cz = position("cz").unwrap();
/// assert!((cz[2] - 104.809).abs() < 0.01);
/// assert_eq!(system("Fp1"), Some(System::S1020));
/// assert_eq!(system("AFF1h"), Some(System::S1005));
/// assert_eq!(position("T3"), None);
/// ```
pub fn position(name: &str) -> Option<[f64; 3]> {
    table().get(&name.to_ascii_uppercase()).map(|e| e.0)
}

/// The smallest standard system containing `name` (case-insensitive).
pub fn system(name: &str) -> Option<System> {
    table().get(&name.to_ascii_uppercase()).map(|e| e.1)
}

/// Number of positions in the table (electrodes and fiducials).
pub fn len() -> usize {
    table().len()
}

/// Every label of the table, upper-case, in no particular order.
pub fn labels() -> impl Iterator<Item = &'static str> {
    table().keys().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_system() {
        let t = table();
        let count = |s| t.values().filter(|e| e.1 == s).count();
        assert_eq!(count(System::S1020), 21);
        assert_eq!(count(System::S1010), 49);
        assert_eq!(count(System::S1005), 266);
        assert_eq!(count(System::Fiducial), 4);
        assert_eq!(len(), 340);
        assert!(t.values().all(|e| e.0.iter().all(|v| v.is_finite())));
    }

    #[test]
    fn left_is_negative_x() {
        assert!(position("T7").unwrap()[0] < -70.0);
        assert!(position("T8").unwrap()[0] > 70.0);
        assert!(position("FPZ").unwrap()[1] > 80.0);
        assert!(position("OZ").unwrap()[1] < -100.0);
    }

    #[test]
    fn no_label_needs_folding() {
        // Labels are looked up after folding, so none may be an old name or carry a suffix.
        for l in labels() {
            assert_eq!(fold_old_name(l), l);
            assert!(
                !l.ends_with('.') && !l.contains('-') && !l.starts_with("EEG "),
                "{l}"
            );
        }
    }
}
