//! De-identification: a clinical table with names, dates of birth, phone numbers and original IDs
//! produces records in which none of those strings appears (every output byte searched).

#![allow(clippy::unwrap_used, clippy::panic)]

use bomdata_table::clinical::{self, Scrubber};
use bomdata_table::table;

const TABLE: &str = "\
PTID,NAME,DOB,PHONE,VISCODE,EXAMDATE,NFL_PGML,MMSE,DX,NOTE
ADNI-0042-S-1234,Ada Lovelace,1815-12-10,+44 20 7946 0958,bl,2019-03-14,12.5,27,MCI,Ada reports memory lapses; call 020 7946 0958 or ID ADNI-0042-S-1234 on 14/03/2019
ADNI-0042-S-1234,Ada Lovelace,1815-12-10,+44 20 7946 0958,m12,2020-03-20,15,25,AD,Daughter Byron Lovelace present. Seen 20.03.2020.
ADNI-0099-S-5678,Charles Babbage,26/12/1791,(555) 123-4567,bl,2019-05-02,900000,30,NL,Mr Babbage MRN 77881234 denies complaints
";

const MAPPING: &str = "\
column\tvariable\ttype\tunit\tcanonical_unit\tmin\tmax\tlevels
PTID\tsubject_id\tidentifier\t\t\t\t\t
NAME\tname\tidentifier\t\t\t\t\t
PHONE\tphone\tidentifier\t\t\t\t\t
DOB\tbirth_date\tdate\t\t\t\t\t
VISCODE\tvisit\tcategorical\t\t\t\t\t
EXAMDATE\texam_date\tdate\t\t\t\t\t
NFL_PGML\tnfl_plasma\tnumeric\tpg/mL\tng/L\t0\t1000\t
MMSE\tmmse\tnumeric\t\t\t0\t30\t
DX\tdiagnosis\tcategorical\t\t\t\t\tNL=CN|AD=dementia
NOTE\tnote\ttext\t\t\t\t\t
";

#[test]
fn no_identifier_survives() {
    let t = table::read_delimited(TABLE.as_bytes(), "clinical.csv", None).unwrap();
    let m = table::read_delimited(MAPPING.as_bytes(), "mapping.tsv", None).unwrap();
    let vars = clinical::read_mapping(&m).unwrap();
    let names = t.text_column(t.column_index("NAME").unwrap());
    let phones = t.text_column(t.column_index("PHONE").unwrap());
    // What the adapter does: known strings per subject are its name, phone and original ID; the
    // date shift comes from a keyed hash of the subject (here a fixed seed per subject).
    let scrubber_for = |subject: &str, row: usize| {
        let known = vec![
            subject.to_string(),
            names[row].clone().unwrap(),
            phones[row].clone().unwrap(),
        ];
        Scrubber::new(
            known,
            clinical::shift_from_seed(subject.len() as u64 * 7919 + 13),
        )
    };
    let recs = clinical::convert(&t, &vars, &scrubber_for).unwrap();
    assert_eq!(recs.len(), 3);
    // Everything an adapter writes: the text and the numeric values (subject IDs are replaced by
    // pseudonyms by the adapter and not part of the output).
    let mut out = Vec::new();
    for r in &recs {
        out.extend_from_slice(r.text.as_bytes());
        for (v, x, oor) in &r.numeric {
            out.extend_from_slice(format!("{v}={x}:{oor}\n").as_bytes());
        }
    }
    let out_text = String::from_utf8(out.clone()).unwrap();
    // Dates are shifted per subject by up to a year, so a birth year may survive (as under HIPAA
    // safe harbour); full dates, names, phone numbers and IDs may not.
    for secret in [
        "Ada",
        "Lovelace",
        "Charles",
        "Babbage",
        "Byron",
        "1815-12-10",
        "26/12/1791",
        "+44 20 7946 0958",
        "7946",
        "0958",
        "(555) 123-4567",
        "123-4567",
        "ADNI-0042-S-1234",
        "ADNI-0099-S-5678",
        "1234",
        "5678",
        "77881234",
        "2019-03-14",
        "14/03/2019",
        "20.03.2020",
        "2020-03-20",
        "2019-05-02",
    ] {
        let hit = out
            .windows(secret.len())
            .position(|w| w.eq_ignore_ascii_case(secret.as_bytes()));
        assert!(
            hit.is_none(),
            "{secret:?} appears in the output:\n{out_text}"
        );
    }
    // Clinical content survives, converted and flagged.
    assert!(
        recs[0].text.contains("nfl_plasma: 12.5 ng/L"),
        "{}",
        recs[0].text
    );
    assert!(recs[1].text.contains("diagnosis: dementia"));
    assert!(recs[2].text.contains("diagnosis: CN"));
    assert_eq!(
        recs[2].numeric[0],
        ("nfl_plasma".to_string(), 900000.0, true)
    );
    assert!(recs[2].text.contains("(out of range)"));
    assert_eq!(recs[0].visit, "bl");
}
