//! Spherical-spline interpolation of missing EEG channels, as MNE's `interpolate_bads` does
//! for EEG (`mne.channels.interpolation._make_interpolation_matrix`, Perrin et al. 1989).
//!
//! 1. Origin: a linear least-squares sphere fitted to the positions of every channel of the
//!    set (present and missing), leaving out points on the face (z < 0 and y > 0), like
//!    `fit_sphere_to_headshape(dig_kinds="auto")` on a montage without extra head points.
//! 2. Positions minus the origin, scaled to the unit sphere.
//! 3. `g(cos γ) = Σ_{n=1..50} (2n+1) / (n⁴ (n+1)⁴ 4π) · P_n(cos γ)` (stiffness m = 4, 50
//!    Legendre terms), `G_from` between the good channels with `α = 1e-5` added on the
//!    diagonal, bordered by a row and a column of ones (the constant term);
//!    `W = [G_to_from, 1] · C⁻¹[:, :-1]`. MNE takes a pseudo-inverse of `C`; `C` is
//!    invertible here, so a linear solve with partial pivoting gives the same matrix up to
//!    rounding.

use std::f64::consts::PI;

/// Stiffness `m` of the spline.
pub const STIFFNESS: i32 = 4;
/// Legendre terms of the series (MNE's `_calc_g` default).
pub const N_LEGENDRE_TERMS: usize = 50;
/// Regularisation added to the diagonal of `G_from`.
pub const ALPHA: f64 = 1e-5;

/// Linear least-squares sphere through `points` (MNE `_fit_sphere`): (radius, centre).
/// `None` with fewer than 4 points or a degenerate set.
pub fn fit_sphere(points: &[[f64; 3]]) -> Option<(f64, [f64; 3])> {
    if points.len() < 4 {
        return None;
    }
    // |p|² = 2 p·o + c, solved on centred points (the fit is translation-equivariant) with
    // the normal equations, which are well conditioned once centred.
    let n = points.len() as f64;
    let mean = [0, 1, 2].map(|k| points.iter().map(|p| p[k]).sum::<f64>() / n);
    let mut ata = [[0.0; 4]; 4];
    let mut atb = [0.0; 4];
    for p in points {
        let q = [p[0] - mean[0], p[1] - mean[1], p[2] - mean[2]];
        let row = [2.0 * q[0], 2.0 * q[1], 2.0 * q[2], 1.0];
        let b = q[0] * q[0] + q[1] * q[1] + q[2] * q[2];
        for i in 0..4 {
            for j in 0..4 {
                ata[i][j] += row[i] * row[j];
            }
            atb[i] += row[i] * b;
        }
    }
    let a: Vec<Vec<f64>> = ata.iter().map(|r| r.to_vec()).collect();
    let x = solve(a, vec![atb.to_vec()])?;
    let x = &x[0];
    let o = [x[0], x[1], x[2]];
    let radius = (o[0] * o[0] + o[1] * o[1] + o[2] * o[2] + x[3]).sqrt();
    Some((radius, [o[0] + mean[0], o[1] + mean[1], o[2] + mean[2]]))
}

/// The points MNE fits the sphere to: all but those on the face (z < 0 and y > 0, with
/// MNE's 1e-6 m tolerance; positions in millimetres).
pub fn fitting_points(points_mm: &[[f64; 3]]) -> Vec<[f64; 3]> {
    points_mm
        .iter()
        .filter(|p| !(p[2] < -1e-3 && p[1] > 1e-3))
        .copied()
        .collect()
}

/// `g(x)` of the spline (MNE `_calc_g`): the Legendre series by the three-term recurrence.
pub fn calc_g(x: f64) -> f64 {
    let (mut p_prev, mut p) = (1.0, x);
    let mut sum = 0.0;
    for n in 1..=N_LEGENDRE_TERMS {
        let nf = n as f64;
        let factor =
            (2.0 * nf + 1.0) / (nf.powi(STIFFNESS) * (nf + 1.0).powi(STIFFNESS) * 4.0 * PI);
        sum += factor * p;
        let next = ((2.0 * nf + 1.0) * x * p - nf * p_prev) / (nf + 1.0);
        p_prev = p;
        p = next;
    }
    sum
}

fn unit(p: [f64; 3], origin: [f64; 3]) -> [f64; 3] {
    let d = [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
    let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    if r > 0.0 { d.map(|v| v / r) } else { d }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The interpolation matrix (`to.len()` rows × `from.len()` columns) from the good channels at
/// `from` to the missing ones at `to`, positions relative to nothing in particular (`origin`
/// is subtracted here). `None` when the system is singular.
pub fn spline_matrix(
    from: &[[f64; 3]],
    to: &[[f64; 3]],
    origin: [f64; 3],
) -> Option<Vec<Vec<f64>>> {
    let uf: Vec<[f64; 3]> = from.iter().map(|&p| unit(p, origin)).collect();
    let ut: Vec<[f64; 3]> = to.iter().map(|&p| unit(p, origin)).collect();
    let n = uf.len();
    // C = [[G_from + αI, 1], [1ᵀ, 0]] (symmetric), so W = B C⁻¹[:, :n] = (C⁻¹ Bᵀ)[:n]ᵀ.
    let mut c = vec![vec![0.0; n + 1]; n + 1];
    for i in 0..n {
        for j in 0..n {
            c[i][j] = calc_g(dot(uf[i], uf[j]));
        }
        c[i][i] += ALPHA;
        c[i][n] = 1.0;
        c[n][i] = 1.0;
    }
    let rhs: Vec<Vec<f64>> = ut
        .iter()
        .map(|&t| {
            let mut b: Vec<f64> = uf.iter().map(|&f| calc_g(dot(t, f))).collect();
            b.push(1.0);
            b
        })
        .collect();
    let z = solve(c, rhs)?;
    Some(
        z.into_iter()
            .map(|mut w| {
                w.truncate(n);
                w
            })
            .collect(),
    )
}

/// Solves `a · x = b` for each right-hand side `b` (Gaussian elimination with partial
/// pivoting). `None` when `a` is singular.
fn solve(mut a: Vec<Vec<f64>>, mut bs: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col] == 0.0 || !a[piv][col].is_finite() {
            return None;
        }
        a.swap(col, piv);
        for b in bs.iter_mut() {
            b.swap(col, piv);
        }
        for r in col + 1..n {
            let f = a[r][col] / a[col][col];
            if f == 0.0 {
                continue;
            }
            let (top, bottom) = a.split_at_mut(r);
            for (x, y) in bottom[0][col..].iter_mut().zip(&top[col][col..]) {
                *x -= f * y;
            }
            for b in bs.iter_mut() {
                b[r] -= f * b[col];
            }
        }
    }
    for b in bs.iter_mut() {
        for col in (0..n).rev() {
            let s: f64 = (col + 1..n).map(|k| a[col][k] * b[k]).sum();
            b[col] = (b[col] - s) / a[col][col];
        }
    }
    Some(bs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sphere_fit_is_exact_on_a_sphere() {
        let o = [1.0, -2.0, 40.0];
        let r = 85.0;
        let pts: Vec<[f64; 3]> = (0..12)
            .map(|i| {
                let (t, p) = (0.3 + 0.1 * i as f64, 0.7 * i as f64);
                [
                    o[0] + r * t.sin() * p.cos(),
                    o[1] + r * t.sin() * p.sin(),
                    o[2] + r * t.cos(),
                ]
            })
            .collect();
        let (rr, oo) = fit_sphere(&pts).unwrap();
        assert!((rr - r).abs() < 1e-9, "{rr}");
        for k in 0..3 {
            assert!((oo[k] - o[k]).abs() < 1e-9);
        }
    }

    #[test]
    fn g_matches_mne() {
        // mne.channels.interpolation._calc_g(np.array([1.0, 0.5, 0.0, -0.3]))
        let want = [
            0.015_260_761_697_061_108,
            0.007_409_185_638_567_886,
            -0.000_151_919_699_050_513_88,
            -0.004_578_004_849_820_520_5,
        ];
        for (x, w) in [1.0, 0.5, 0.0, -0.3].iter().zip(want) {
            let g = calc_g(*x);
            assert!((g - w).abs() < 1e-12 * w.abs().max(1e-3), "{x}: {g} vs {w}");
        }
    }

    #[test]
    fn rows_sum_to_one() {
        let pts: Vec<[f64; 3]> = (0..10)
            .map(|i| {
                let a = i as f64 * 0.6;
                [80.0 * a.cos(), 80.0 * a.sin(), 20.0 + 3.0 * i as f64]
            })
            .collect();
        let w = spline_matrix(&pts[1..], &pts[..1], [0.0, 0.0, 0.0]).unwrap();
        let s: f64 = w[0].iter().sum();
        assert!((s - 1.0).abs() < 1e-9, "{s}");
    }
}
