//! Variable-shape fields: what the loader does when the samples of one batch hold arrays of
//! different shapes in the same field ([`ShapePolicy`], chosen per field in
//! [`crate::LoaderOptions::shapes`]).
//!
//! - [`ShapePolicy::Stack`] (default): one `[rows, ...shape]` tensor; a sample whose shape
//!   differs from the batch's first is an error naming this option.
//! - [`ShapePolicy::Pad`] / [`ShapePolicy::PadMasked`]: rows are zero-padded to the batch's
//!   largest extent in every dimension (`[rows, ...max_shape]`); arrays of lower rank count as
//!   having trailing dimensions of size 1 (a `[x, y, z]` volume in a batch with
//!   `[x, y, z, t]` ones is `[x, y, z, 1]`). Beside the field the batch holds `<stem>.shape`
//!   (`int64 [rows, ndim]`: each row's shape in that rank, zeros for a missing row) and, for
//!   `PadMasked`, `<stem>.mask` (`bool [rows, ...max_shape]`: true on real elements), where
//!   `<stem>` is the member name without `.npy` (`fmri.npy` → `fmri.shape`).
//! - [`ShapePolicy::Bucket`]: batches hold samples of one shape only. This is a property of the
//!   order, so it is decided by the planner ([`crate::Planner::with_buckets`]): each unit is a
//!   bucket batch and the loader collates its slots as rows (see the planner for how this keeps
//!   exactly-once, partition and resume).
//! - [`ShapePolicy::List`]: no stacking; the field keeps each row's array as it is
//!   ([`crate::FieldKind::List`], [`crate::Field::row`] and [`crate::Field::row_shape`]).

use serde::{Deserialize, Serialize};

/// How a field whose shape varies between samples is collated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapePolicy {
    /// One tensor of the batch's single shape; another shape is an error.
    #[default]
    Stack,
    /// Zero-pad to the batch's largest shape, with a `<stem>.shape` field.
    Pad,
    /// As [`ShapePolicy::Pad`], plus a boolean `<stem>.mask` field.
    PadMasked,
    /// Batches of one shape only (needs a planner from [`crate::Planner::with_buckets`]).
    Bucket,
    /// Per-sample arrays, not stacked.
    List,
}

impl ShapePolicy {
    /// True for the padding policies.
    pub fn pads(self) -> bool {
        matches!(self, ShapePolicy::Pad | ShapePolicy::PadMasked)
    }
}

/// The name of a padded field's companion `suffix` field (`fmri.npy`, `shape` → `fmri.shape`).
pub fn companion(field: &str, suffix: &str) -> String {
    let stem = field.strip_suffix(".npy").unwrap_or(field);
    format!("{stem}.{suffix}")
}

/// A padded row may be at most this many times larger than the largest row of its batch
/// (bounds the memory a batch of oddly shaped arrays can ask for).
pub const MAX_PAD_FACTOR: usize = 64;

/// `shape` extended with trailing 1s to `ndim` dimensions.
pub(crate) fn extend(shape: &[usize], ndim: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s.resize(ndim.max(shape.len()), 1);
    s
}

/// Calls `f(src_elem, dst_elem, len)` for every contiguous run (last dimension) of an array of
/// `shape` placed at the origin of an array of `outer` (same rank, every `shape[d] <= outer[d]`).
pub(crate) fn for_each_run(
    shape: &[usize],
    outer: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let nd = shape.len();
    if nd == 0 {
        f(0, 0, 1);
        return;
    }
    if shape.contains(&0) {
        return;
    }
    let last = shape[nd - 1];
    let runs: usize = shape[..nd - 1].iter().product();
    let mut idx = vec![0usize; nd - 1];
    for run in 0..runs {
        let mut dst = 0usize;
        for (d, &i) in idx.iter().enumerate() {
            dst = dst * outer[d] + i;
        }
        dst *= outer[nd - 1];
        f(run * last, dst, last);
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Checks that the bucket policies of `opts` match the planner: every bucket field is one the
/// planner buckets by, and a bucket planner is read one unit (one bucket batch) per batch.
pub(crate) fn check_buckets(
    planner: &crate::Planner,
    opts: &crate::LoaderOptions,
) -> crate::Result<()> {
    for (field, p) in &opts.shapes {
        if *p != ShapePolicy::Bucket {
            continue;
        }
        let problem = match planner.bucket_fields() {
            None => "does not bucket",
            Some(f) if !f.is_empty() && !f.contains(field) => "buckets by other fields",
            Some(_) => continue,
        };
        return Err(crate::Error::Buckets {
            field: field.clone(),
            problem,
        });
    }
    if let Some(f) = planner.bucket_fields()
        && opts.batch_size != 1
    {
        return Err(crate::Error::Buckets {
            field: f.join(","),
            problem: "makes whole batches but LoaderOptions::batch_size is not 1",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_the_inner_box() {
        let mut got = Vec::new();
        for_each_run(&[2, 1, 3], &[3, 2, 4], |s, d, n| got.push((s, d, n)));
        assert_eq!(got, vec![(0, 0, 3), (3, 8, 3)]);
        let mut n = 0;
        for_each_run(&[], &[], |_, _, k| n += k);
        assert_eq!(n, 1);
        assert_eq!(extend(&[4, 5], 3), vec![4, 5, 1]);
        assert_eq!(companion("fmri.npy", "mask"), "fmri.mask");
    }

    #[test]
    fn policies_are_plain_json() {
        let p: ShapePolicy = serde_json::from_str("\"pad_masked\"").unwrap_or_default();
        assert_eq!(p, ShapePolicy::PadMasked);
        assert!(p.pads());
    }
}
