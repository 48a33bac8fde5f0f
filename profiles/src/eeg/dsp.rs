//! Signal processing for the EEG profiles, designed to reproduce the reference tools.
//!
//! Every function works on one channel (`&[f64]`) in float64, as MNE and SciPy do:
//!
//! * [`mne_resample`]: MNE's `Raw.resample` (FFT method, boxcar window, `npad="auto"`,
//!   `reflect_limited` padding), including its slight time warp (DOMAIN.md §3.2a);
//!   [`MneResampler::apply_fast`] is the same in float32 FFTs (mean removed first, exact
//!   offset added back in float64) and returns an error bound for the caller's fallback.
//! * [`resample_poly`]: SciPy's `resample_poly` (Kaiser β=5 anti-aliasing FIR, zero padding).
//! * [`nearest`]: PyTorch `F.interpolate(mode="nearest")` with the exact index
//!   `floor(i · n_in / n_out)` (integer arithmetic), and [`nearest_segments`], EEGPT's use of it:
//!   one interpolation per segment of the recording.
//! * [`FirFilter`]: MNE's default FIR filters (`firwin`, Hamming, MNE transition-band and
//!   length rules), band-pass, high-pass, low-pass and notch, applied zero-phase with
//!   `reflect_limited` edge padding like `mne.filter._overlap_add_filter`;
//!   [`FilterChain`] runs several of them as one convolution with exact ends, and
//!   [`MneResampler::response`] lets them be multiplied into the resampled spectrum.
//! * [`common_average`], [`percentile_scale`]: re-referencing and BIOT's percentile scaling.

use std::sync::{Arc, Mutex};

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, FftNum, RealFftPlanner, RealToComplex};

/// A small cache shared between threads: at most `cap` entries, looked up by a scan (there
/// are few), the oldest evicted first.
pub(crate) struct Recent<K, V> {
    cap: usize,
    items: Mutex<Vec<(K, V)>>,
}

impl<K, V: Clone> Recent<K, V> {
    /// An empty cache of at most `cap` entries.
    pub(crate) const fn new(cap: usize) -> Self {
        Recent {
            cap,
            items: Mutex::new(Vec::new()),
        }
    }

    /// The value of the first entry whose key `matches`; otherwise `make`'s, which is kept.
    pub(crate) fn get(&self, matches: impl Fn(&K) -> bool, make: impl FnOnce() -> (K, V)) -> V {
        // A poisoned lock only means another thread panicked while holding it; the list
        // itself is always valid.
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, v)) = items.iter().find(|(k, _)| matches(k)) {
            return v.clone();
        }
        let (k, v) = make();
        if items.len() >= self.cap {
            items.remove(0);
        }
        items.push((k, v.clone()));
        v
    }
}

/// FFT plans shared by the whole process, by length. Making a plan computes its twiddle
/// factors (one `sin_cos` per factor, tens of milliseconds for a one-hour recording), and
/// MNE pads every signal to a power of two before resampling, so the recordings of a
/// dataset share a handful of lengths: each is planned once per process, not once per
/// recording. At most [`PLAN_CACHE_LEN`] lengths are kept per kind.
type PlanCache<P> = Recent<usize, P>;

/// Lengths kept per plan kind (a plan of a one-hour recording holds about 8 MB of twiddles).
const PLAN_CACHE_LEN: usize = 6;

type Forward<T> = Arc<dyn RealToComplex<T>>;
type Inverse<T> = Arc<dyn ComplexToReal<T>>;

static FWD_F64: PlanCache<Forward<f64>> = PlanCache::new(PLAN_CACHE_LEN);
static INV_F64: PlanCache<Inverse<f64>> = PlanCache::new(PLAN_CACHE_LEN);
static FWD_F32: PlanCache<Forward<f32>> = PlanCache::new(PLAN_CACHE_LEN);
static INV_F32: PlanCache<Inverse<f32>> = PlanCache::new(PLAN_CACHE_LEN);

/// The shared forward and inverse real FFT plans of one precision.
trait Plans: FftNum {
    fn forward(len: usize) -> Forward<Self>;
    fn inverse(len: usize) -> Inverse<Self>;
}

impl Plans for f64 {
    fn forward(len: usize) -> Forward<f64> {
        FWD_F64.get(
            |&n| n == len,
            || (len, RealFftPlanner::new().plan_fft_forward(len)),
        )
    }
    fn inverse(len: usize) -> Inverse<f64> {
        INV_F64.get(
            |&n| n == len,
            || (len, RealFftPlanner::new().plan_fft_inverse(len)),
        )
    }
}

impl Plans for f32 {
    fn forward(len: usize) -> Forward<f32> {
        FWD_F32.get(
            |&n| n == len,
            || (len, RealFftPlanner::new().plan_fft_forward(len)),
        )
    }
    fn inverse(len: usize) -> Inverse<f32> {
        INV_F32.get(
            |&n| n == len,
            || (len, RealFftPlanner::new().plan_fft_inverse(len)),
        )
    }
}

/// Python's `round()` (half to even) as an integer.
fn pyround(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// MNE `_smart_pad(x, (left, right), "reflect_limited")`: odd reflection about the edge
/// samples, limited to the signal length, zeros beyond.
pub fn smart_pad(x: &[f64], left: usize, right: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() + left + right);
    smart_pad_into(x, left, right, &mut out);
    out
}

/// [`smart_pad`] into a reused buffer (cleared first).
pub fn smart_pad_into(x: &[f64], left: usize, right: usize, out: &mut Vec<f64>) {
    out.clear();
    let n = x.len();
    if n == 0 {
        out.resize(left + right, 0.0);
        return;
    }
    let lz = (left + 1).saturating_sub(n);
    out.resize(lz, 0.0);
    // 2*x[0] - x[left:0:-1]
    let lref = left.min(n - 1);
    out.extend(x[1..=lref].iter().rev().map(|v| 2.0 * x[0] - v));
    out.extend_from_slice(x);
    // 2*x[-1] - x[-2:-right-2:-1]
    let rref = right.min(n - 1);
    let last = x[n - 1];
    out.extend(x[n - 1 - rref..n - 1].iter().rev().map(|v| 2.0 * last - v));
    let rz = (right + 1).saturating_sub(n);
    out.resize(out.len() + rz, 0.0);
}

/// Output length of a resampling from `from` Hz to `to` Hz of `n` samples (MNE and SciPy).
pub fn resampled_len(n: usize, from: f64, to: f64) -> usize {
    let ratio = to / from;
    pyround(ratio * n as f64).max(1) as usize
}

/// A reusable MNE FFT resampler for one input length and rate pair.
pub struct MneResampler {
    npad: (usize, usize),
    new_len: usize,
    remove: (usize, usize),
    final_len: usize,
    /// Planned on first use: the float32 path does not need it.
    fwd: std::sync::OnceLock<Arc<dyn RealToComplex<f64>>>,
    inv: Arc<dyn ComplexToReal<f64>>,
    old_len: usize,
}

/// Buffers reused by [`MneResampler::apply_into`] from one channel to the next.
pub struct ResampleWork {
    padded: Vec<f64>,
    spec: Vec<Complex<f64>>,
    out_spec: Vec<Complex<f64>>,
    y: Vec<f64>,
    scratch_fwd: Vec<Complex<f64>>,
    scratch_inv: Vec<Complex<f64>>,
}

impl MneResampler {
    /// Plans `Raw.resample(to)` for signals of `n` samples at `from` Hz.
    pub fn new(n: usize, from: f64, to: f64) -> Self {
        let ratio = to / from;
        let final_len = pyround(ratio * n as f64).max(1) as usize;
        let min_add = (n / 8).min(100) * 2;
        let target = n + min_add;
        let pow = (target as f64).log2().ceil() as u32;
        let total = 1usize << pow;
        let npad = total - n;
        let (half, extra) = (npad / 2, npad % 2);
        let npads = (half, half + extra);
        let old_len = n + npads.0 + npads.1;
        let new_len = pyround(ratio * old_len as f64).max(1) as usize;
        let r0 = pyround(ratio * npads.0 as f64).max(0) as usize;
        let r1 = new_len.saturating_sub(final_len + r0);
        MneResampler {
            npad: npads,
            new_len,
            remove: (r0, r1),
            final_len,
            fwd: std::sync::OnceLock::new(),
            inv: f64::inverse(new_len),
            old_len,
        }
    }

    fn fwd(&self) -> &Arc<dyn RealToComplex<f64>> {
        self.fwd.get_or_init(|| f64::forward(self.old_len))
    }

    /// Output length.
    pub fn out_len(&self) -> usize {
        self.final_len
    }

    /// Length of the resampled padded signal (the period of the inverse FFT).
    pub fn padded_out_len(&self) -> usize {
        self.new_len
    }

    /// Fresh buffers for [`MneResampler::apply_into`].
    pub fn work(&self) -> ResampleWork {
        ResampleWork {
            padded: Vec::with_capacity(self.old_len),
            spec: self.fwd().make_output_vec(),
            out_spec: self.inv.make_input_vec(),
            y: self.inv.make_output_vec(),
            scratch_fwd: self.fwd().make_scratch_vec(),
            scratch_inv: self.inv.make_scratch_vec(),
        }
    }

    /// The zero-phase frequency response of the symmetric FIR `taps` on the resampled padded
    /// signal's grid (`padded_out_len() / 2 + 1` real values): the DFT of the taps wrapped
    /// around sample 0. Multiplying the spectrum by it is a circular convolution with `taps`,
    /// which equals MNE's linear (zero-phase) convolution at every output sample farther than
    /// `(taps.len() - 1) / 2` from both ends of the signal.
    pub fn response(&self, taps: &[f64]) -> Vec<f64> {
        let n = self.new_len;
        let half = n / 2 + 1;
        if taps.is_empty() {
            return vec![1.0; half];
        }
        let mut spec = self.inv.make_input_vec();
        let mut y = self.inv.make_output_vec();
        let mut scratch = self.inv.make_scratch_vec();
        Self::wrapped_taps(taps, n, &mut spec);
        // Only the imaginary parts of bins 0 and n/2 are ignored by the inverse: both are 0.
        let _ = self
            .inv
            .process_with_scratch(&mut spec, &mut y, &mut scratch);
        y.truncate(half);
        y
    }

    /// The half spectrum whose inverse real FFT is the DFT of `taps` wrapped around sample 0
    /// on an `n`-sample grid (see [`MneResampler::response_with`]).
    fn wrapped_taps(taps: &[f64], n: usize, spec: &mut [Complex<f64>]) {
        let half = n / 2 + 1;
        let c = (taps.len() - 1) / 2;
        spec.iter_mut().for_each(|v| *v = Complex::new(0.0, 0.0));
        for (k, v) in taps.iter().enumerate() {
            let lag = (k as isize - c as isize).rem_euclid(n as isize) as usize;
            // Lags past the half are the mirror images of those before it.
            if lag < half {
                spec[lag].re += v;
            }
        }
    }

    /// [`MneResampler::response`] computed in `work`'s buffers.
    pub fn response_with(&self, taps: &[f64], work: &mut ResampleWork) -> Vec<f64> {
        let n = self.new_len;
        let half = n / 2 + 1;
        if taps.is_empty() {
            return vec![1.0; half];
        }
        // The wrapped kernel is real and even, so its DFT is real and equal to its inverse
        // DFT times n: the inverse plan, fed the kernel's first half as a (Hermitian) half
        // spectrum, computes it without another plan.
        let spec = &mut work.out_spec;
        Self::wrapped_taps(taps, n, spec);
        // Only the imaginary parts of bins 0 and n/2 are ignored by the inverse: both are 0.
        let _ = self
            .inv
            .process_with_scratch(spec, &mut work.y, &mut work.scratch_inv);
        work.y[..half].to_vec()
    }

    /// Resamples one channel.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut out = Vec::new();
        self.apply_into(x, None, &mut self.work(), &mut out);
        out
    }

    /// Resamples one channel into `out` (cleared first), optionally multiplying the resampled
    /// spectrum by a real zero-phase `response` (from [`MneResampler::response`]).
    pub fn apply_into(
        &self,
        x: &[f64],
        response: Option<&[f64]>,
        work: &mut ResampleWork,
        out: &mut Vec<f64>,
    ) {
        smart_pad_into(x, self.npad.0, self.npad.1, &mut work.padded);
        self.finish(response, work, out);
    }

    /// [`MneResampler::apply_into`] with the channel's own buffer as the output.
    pub fn apply_in_place(
        &self,
        x: &mut Vec<f64>,
        response: Option<&[f64]>,
        work: &mut ResampleWork,
    ) {
        smart_pad_into(x, self.npad.0, self.npad.1, &mut work.padded);
        self.finish(response, work, x);
    }

    /// Resamples one channel (optionally filtered by `response`) and returns the result,
    /// which lives in `work` until its next use.
    pub fn apply_to_work<'a>(
        &self,
        x: &[f64],
        response: Option<&[f64]>,
        work: &'a mut ResampleWork,
    ) -> &'a [f64] {
        smart_pad_into(x, self.npad.0, self.npad.1, &mut work.padded);
        self.transform(response, work);
        &work.y[self.remove.0..self.new_len - self.remove.1]
    }

    fn finish(&self, response: Option<&[f64]>, work: &mut ResampleWork, out: &mut Vec<f64>) {
        self.transform(response, work);
        out.clear();
        out.extend_from_slice(&work.y[self.remove.0..self.new_len - self.remove.1]);
    }

    /// Forward FFT of `work.padded`, spectrum handling, inverse FFT into `work.y`.
    fn transform(&self, response: Option<&[f64]>, work: &mut ResampleWork) {
        debug_assert_eq!(work.padded.len(), self.old_len);
        // The buffer lengths were made from the plans; a failure here is impossible.
        let _ = self.fwd().process_with_scratch(
            &mut work.padded,
            &mut work.spec,
            &mut work.scratch_fwd,
        );
        let spec = &mut work.spec;
        let shorter = self.new_len < self.old_len;
        let use_len = if shorter { self.new_len } else { self.old_len };
        if use_len.is_multiple_of(2) {
            let nyq = use_len / 2;
            if let Some(v) = spec.get_mut(nyq) {
                *v *= if shorter { 2.0 } else { 0.5 };
            }
        }
        let scale = (self.new_len as f64 / self.old_len as f64) / self.new_len as f64;
        let out_spec = &mut work.out_spec;
        let m = out_spec.len().min(spec.len());
        match response {
            Some(h) => {
                for ((o, s), g) in out_spec.iter_mut().zip(spec.iter()).zip(h).take(m) {
                    *o = *s * (scale * g);
                }
            }
            None => {
                for (o, s) in out_spec.iter_mut().zip(spec.iter()).take(m) {
                    *o = *s * scale;
                }
            }
        }
        out_spec[m..]
            .iter_mut()
            .for_each(|v| *v = Complex::new(0.0, 0.0));
        // irfft ignores the imaginary parts of the DC and (even length) Nyquist bins.
        out_spec[0].im = 0.0;
        if self.new_len.is_multiple_of(2)
            && let Some(last) = out_spec.last_mut()
        {
            last.im = 0.0;
        }
        let _ = self
            .inv
            .process_with_scratch(out_spec, &mut work.y, &mut work.scratch_inv);
    }
}

/// `max |x|` (0 for an empty slice), with eight independent accumulators so that it
/// vectorises; NaNs are ignored like `f64::max` does.
pub fn abs_max(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder().iter().fold(0f64, |a, v| a.max(v.abs()));
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = a.max(v.abs());
        }
    }
    acc.iter().fold(rest, |a, &v| a.max(v))
}

/// The sum of `f` over `x` with eight independent accumulators (so that it vectorises).
fn sum_lanes<T>(x: &[T], f: impl Fn(&T) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(&f).sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Float32 plans and buffers for [`MneResampler::apply_fast`], with the spectral gain
/// (resampling scale, Nyquist handling and an optional zero-phase response) folded into one
/// real factor per output bin.
pub struct FastWork {
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    gain: Vec<f32>,
    dc_gain: f64,
    b: FastBuffers,
}

/// The large buffers of a [`FastWork`] (about 21 MB for a one-hour 256 Hz channel). When a
/// `FastWork` is dropped they are kept for the next one made on the same thread, so a
/// dataset run does not map and fault in fresh pages for every recording.
#[derive(Default)]
struct FastBuffers {
    padded: Vec<f32>,
    spec: Vec<Complex<f32>>,
    out_spec: Vec<Complex<f32>>,
    y: Vec<f32>,
    scratch: Vec<Complex<f32>>,
    out: Vec<f64>,
}

thread_local! {
    /// One spare set of [`FastBuffers`] per thread.
    static SPARE_FAST: std::cell::RefCell<Option<FastBuffers>> = const { std::cell::RefCell::new(None) };
}

/// `v` with exactly `n` elements; its old contents (to be overwritten) are kept when the
/// length already fits, so a recycled buffer is not zeroed again.
fn sized<T: Clone>(mut v: Vec<T>, n: usize, zero: T) -> Vec<T> {
    if v.len() != n {
        v.clear();
        v.resize(n, zero);
    }
    v
}

impl Drop for FastWork {
    fn drop(&mut self) {
        let b = std::mem::take(&mut self.b);
        // A thread being torn down has no slot left; the buffers are then just freed.
        let _ = SPARE_FAST.try_with(|s| *s.borrow_mut() = Some(b));
    }
}

/// Bound on the float32 round trip's error per output sample, as a multiple of
/// `log2(n) · rms(x - mean(x))`: two FFTs (each at most ~`log2 n` roundings of the unit
/// roundoff 2^-24 relative to the signal's L2 norm), the spectral product and the input
/// rounding, with a factor 2 to spare. `dsp` tests check it against the float64 path.
const F32_ERR_PER_LOG2: f64 = 4.0 * 5.960_464_477_539_063e-8;

impl FastWork {
    /// The output of the last [`MneResampler::apply_fast`].
    pub fn output(&self) -> &[f64] {
        &self.b.out
    }
}

impl MneResampler {
    /// Float32 plans for [`MneResampler::apply_fast`] with the optional `response` (from
    /// [`MneResampler::response`]); `None` when the signal is shorter than its padding (the
    /// padding then has zeros, so the mean cannot be split off exactly).
    pub fn fast_work(&self, response: Option<&[f64]>) -> Option<FastWork> {
        let n = self.old_len - self.npad.0 - self.npad.1;
        if n <= self.npad.0.max(self.npad.1) {
            return None;
        }
        let fwd = f32::forward(self.old_len);
        let inv = f32::inverse(self.new_len);
        let n_spec = self.old_len / 2 + 1;
        let n_out = self.new_len / 2 + 1;
        let m = n_out.min(n_spec);
        let shorter = self.new_len < self.old_len;
        let use_len = if shorter { self.new_len } else { self.old_len };
        let nyq = use_len.is_multiple_of(2).then_some(use_len / 2);
        let scale = (self.new_len as f64 / self.old_len as f64) / self.new_len as f64;
        let gain64: Vec<f64> = (0..m)
            .map(|k| {
                let g = response.map_or(1.0, |h| h[k]);
                let f = match nyq {
                    Some(q) if q == k => {
                        if shorter {
                            2.0
                        } else {
                            0.5
                        }
                    }
                    _ => 1.0,
                };
                scale * g * f
            })
            .collect();
        // A constant c pads to a constant, whose spectrum is c·old_len at DC only: the
        // output is c·gain[0]·old_len everywhere.
        let dc_gain = gain64[0] * self.old_len as f64;
        let scratch_len = fwd.get_scratch_len().max(inv.get_scratch_len());
        let spare = SPARE_FAST
            .try_with(|s| s.borrow_mut().take())
            .ok()
            .flatten()
            .unwrap_or_default();
        let zero = Complex::new(0.0f32, 0.0);
        let mut out = spare.out;
        out.clear();
        out.reserve(self.final_len);
        Some(FastWork {
            gain: gain64.iter().map(|&g| g as f32).collect(),
            dc_gain,
            b: FastBuffers {
                padded: sized(spare.padded, self.old_len, 0.0),
                spec: sized(spare.spec, n_spec, zero),
                out_spec: sized(spare.out_spec, n_out, zero),
                y: sized(spare.y, self.new_len, 0.0),
                scratch: sized(spare.scratch, scratch_len, zero),
                out,
            },
            fwd,
            inv,
        })
    }

    /// [`MneResampler::apply_to_work`] (with the response given to
    /// [`MneResampler::fast_work`]) computed with float32 FFTs: the channel's mean is removed
    /// before the transforms and its (exactly known) output added back in float64, so the
    /// float32 rounding is relative to the signal's fluctuation, not its offset. Returns the
    /// output and a bound on its absolute error per sample against the float64 path; the
    /// caller falls back to [`MneResampler::apply_to_work`] where the bound is too large for
    /// the accuracy it needs.
    pub fn apply_fast<'a>(&self, x: &[f64], fw: &'a mut FastWork) -> (&'a [f64], f64) {
        self.apply_fast_with(x, |&v| v, fw)
    }

    /// [`MneResampler::apply_fast`] of a channel stored as `x`, whose samples `value` turns
    /// into float64 (e.g. little-endian float32 bytes, read without an intermediate copy).
    pub fn apply_fast_with<'a, X>(
        &self,
        x: &[X],
        value: impl Fn(&X) -> f64,
        fw: &'a mut FastWork,
    ) -> (&'a [f64], f64) {
        let n = x.len();
        debug_assert_eq!(n + self.npad.0 + self.npad.1, self.old_len);
        let mean = sum_lanes(x, &value) / n as f64;
        let (left, right) = self.npad;
        let p = &mut fw.b.padded;
        let x0 = value(&x[0]) - mean;
        for (o, v) in p[..left].iter_mut().zip(x[1..=left].iter().rev()) {
            *o = (2.0 * x0 - (value(v) - mean)) as f32;
        }
        for (o, v) in p[left..left + n].iter_mut().zip(x) {
            *o = (value(v) - mean) as f32;
        }
        let xl = value(&x[n - 1]) - mean;
        for (o, v) in p[left + n..]
            .iter_mut()
            .zip(x[n - 1 - right..n - 1].iter().rev())
        {
            *o = (2.0 * xl - (value(v) - mean)) as f32;
        }
        // The FFTs' rounding is relative to the L2 norm of what they transform.
        let ss = sum_lanes(p, |&v| f64::from(v) * f64::from(v));
        let rms = (ss / self.old_len as f64).sqrt();
        // The buffer lengths were made from the plans; a failure here is impossible.
        let _ = fw
            .fwd
            .process_with_scratch(&mut fw.b.padded, &mut fw.b.spec, &mut fw.b.scratch);
        let m = fw.gain.len();
        for ((o, s), g) in fw.b.out_spec.iter_mut().zip(&fw.b.spec).zip(&fw.gain) {
            *o = *s * *g;
        }
        fw.b.out_spec[m..]
            .iter_mut()
            .for_each(|v| *v = Complex::new(0.0, 0.0));
        fw.b.out_spec[0].im = 0.0;
        if self.new_len.is_multiple_of(2)
            && let Some(last) = fw.b.out_spec.last_mut()
        {
            last.im = 0.0;
        }
        let _ = fw
            .inv
            .process_with_scratch(&mut fw.b.out_spec, &mut fw.b.y, &mut fw.b.scratch);
        let dc = mean * fw.dc_gain;
        fw.b.out.clear();
        fw.b.out.extend(
            fw.b.y[self.remove.0..self.new_len - self.remove.1]
                .iter()
                .map(|&v| f64::from(v) + dc),
        );
        let bound = F32_ERR_PER_LOG2 * (self.old_len as f64).log2() * rms;
        (&fw.b.out, bound)
    }
}

/// MNE `Raw.resample` of one channel (see [`MneResampler`]).
pub fn mne_resample(x: &[f64], from: f64, to: f64) -> Vec<f64> {
    MneResampler::new(x.len(), from, to).apply(x)
}

/// PyTorch `F.interpolate(x, size=n_out, mode="nearest")` on one channel: source index
/// `min(floor(i · n_in / n_out), n_in − 1)`, computed exactly in integers. PyTorch computes it
/// in float32, which equals the exact index on the segments EEGPT interpolates (see
/// [`nearest_segments`]) but drifts by one sample on long inputs (above i ≈ 134,217 for
/// 500 → 256 Hz), so the exact index is the reference here.
pub fn nearest(x: &[f64], n_out: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n_out);
    nearest_into(x, n_out, &mut out);
    out
}

/// [`nearest`], appended to `out`.
fn nearest_into(x: &[f64], n_out: usize, out: &mut Vec<f64>) {
    let n_in = x.len();
    if n_in == 0 {
        out.extend(std::iter::repeat_n(0.0, n_out));
        return;
    }
    if n_in == n_out {
        out.extend_from_slice(x);
        return;
    }
    let (n_in_w, n_out_w) = (n_in as u128, n_out as u128);
    out.extend((0..n_out).map(|i| {
        let s = (i as u128 * n_in_w / n_out_w) as usize;
        x[s.min(n_in - 1)]
    }));
}

/// EEGPT's nearest-neighbour resampling: the channel cut into consecutive segments of
/// `round(segment_s · from)` samples (torcheeg's chunks), each brought to
/// `round(segment_s · to)` samples by [`nearest`], a shorter last segment to
/// `round(len · to / from)`; the segments concatenated. A window of `segment_s` that starts on a
/// segment boundary is then exactly EEGPT's interpolated chunk.
pub fn nearest_segments(x: &[f64], segment_s: f64, from: f64, to: f64) -> Vec<f64> {
    let seg_in = pyround(segment_s * from).max(0) as usize;
    let seg_out = pyround(segment_s * to).max(0) as usize;
    if seg_in == 0 || seg_out == 0 {
        return nearest(x, resampled_len(x.len(), from, to));
    }
    let mut out = Vec::with_capacity(x.len().div_ceil(seg_in) * seg_out);
    for seg in x.chunks(seg_in) {
        let n = if seg.len() == seg_in {
            seg_out
        } else {
            pyround(seg.len() as f64 * to / from).max(0) as usize
        };
        nearest_into(seg, n, &mut out);
    }
    out
}

/// SciPy `get_window("hamming", n, fftbins=False)`.
fn hamming(n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    (0..n)
        .map(|k| 0.54 - 0.46 * (2.0 * std::f64::consts::PI * k as f64 / (n - 1) as f64).cos())
        .collect()
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let y = std::f64::consts::PI * x;
        y.sin() / y
    }
}

/// SciPy `firwin(n, cutoff, window=win, pass_zero=True)` with `cutoff` relative to Nyquist.
fn firwin_lowpass(window: &[f64], cutoff: f64) -> Vec<f64> {
    let n = window.len();
    let alpha = 0.5 * (n as f64 - 1.0);
    let mut h: Vec<f64> = (0..n)
        .map(|i| {
            let m = i as f64 - alpha;
            cutoff * sinc(cutoff * m) * window[i]
        })
        .collect();
    let s: f64 = h.iter().sum();
    for v in &mut h {
        *v /= s;
    }
    h
}

/// SciPy `firwin(numtaps, cutoff, window=("kaiser", beta))` low-pass, `cutoff` relative to
/// Nyquist.
fn firwin_kaiser(numtaps: usize, cutoff: f64, beta: f64) -> Vec<f64> {
    let w: Vec<f64> = (0..numtaps)
        .map(|k| {
            if numtaps == 1 {
                return 1.0;
            }
            let r = 2.0 * k as f64 / (numtaps - 1) as f64 - 1.0;
            bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta)
        })
        .collect();
    firwin_lowpass(&w, cutoff)
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..200 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// MNE `_firwin_design`: the filter is built from one Hamming low-pass per gain change, each
/// with the length its own transition band needs, centred in an `n`-tap filter.
/// `freq` is relative to Nyquist (starting at 0, ending at 1), `gain` is 0/1.
fn mne_firwin_design(n: usize, freq: &[f64], gain: &[f64]) -> Result<Vec<f64>, String> {
    let mut h = vec![0.0; n];
    let last = freq.len() - 1;
    let mut prev_freq = freq[last];
    let mut prev_gain = gain[last];
    if prev_gain == 1.0 {
        h[n / 2] = 1.0;
    }
    for i in (0..last).rev() {
        let (f, g) = (freq[i], gain[i]);
        if g != prev_gain {
            let transition = (prev_freq - f) / 2.0;
            let mut this_n = pyround(3.3 / transition) as usize;
            this_n += 1 - this_n % 2;
            if this_n > n {
                return Err(format!(
                    "filter length {n} is too short for a transition band needing {this_n} taps"
                ));
            }
            let lp = firwin_lowpass(&hamming(this_n), (prev_freq + f) / 2.0);
            let off = (n - this_n) / 2;
            for (k, v) in lp.iter().enumerate() {
                if g == 0.0 {
                    h[off + k] -= v;
                } else {
                    h[off + k] += v;
                }
            }
        }
        prev_gain = g;
        prev_freq = f;
    }
    Ok(h)
}

/// MNE's automatic FIR length for the narrowest transition band `trans` (Hz): the string
/// `f"{3.3 / trans}s"` turned into samples, made odd.
fn auto_length(trans: f64, sfreq: f64) -> usize {
    let seconds = 3.3 * 1.0 / trans;
    let mut n = ((seconds * sfreq).ceil() as usize).max(1);
    n += (n - 1) % 2;
    n
}

/// A zero-phase FIR filter designed like MNE's defaults.
#[derive(Clone, Debug)]
pub struct FirFilter {
    /// The taps (odd length, symmetric).
    pub taps: Vec<f64>,
    /// What it is, for the processing chain.
    pub description: serde_json::Value,
}

impl FirFilter {
    /// `Raw.filter(l_freq, h_freq)` with MNE's defaults (`l_freq`/`h_freq` `None` for low-/
    /// high-pass): `firwin`, Hamming, `l_trans = min(max(0.25 l, 2), l)`,
    /// `h_trans = min(max(0.25 h, 2), fs/2 - h)`, length `ceil(3.3 / min trans · fs)` odd.
    pub fn mne_filter(
        sfreq: f64,
        l_freq: Option<f64>,
        h_freq: Option<f64>,
    ) -> Result<Self, String> {
        let nyq = sfreq / 2.0;
        let l_freq = l_freq.filter(|&l| l != 0.0);
        if let Some(l) = l_freq
            && l <= 0.0
        {
            return Err(format!("highpass frequency {l} must be greater than zero"));
        }
        if let Some(h) = h_freq
            && h >= nyq
        {
            return Err(format!(
                "lowpass frequency {h} must be less than nyquist ({nyq})"
            ));
        }
        let l_trans = l_freq.map(|l| (0.25 * l).max(2.0).min(l));
        let h_trans = h_freq.map(|h| (0.25 * h).max(2.0).min(nyq - h));
        let min_trans = l_trans
            .unwrap_or(f64::INFINITY)
            .min(h_trans.unwrap_or(f64::INFINITY));
        let (freq, gain): (Vec<f64>, Vec<f64>) = match (l_freq, h_freq) {
            (Some(l), Some(h)) => {
                if l >= h {
                    return Err(format!("band-pass needs l_freq < h_freq, got {l} >= {h}"));
                }
                let ls = l - l_trans.unwrap_or(0.0);
                let hs = h + h_trans.unwrap_or(0.0);
                if hs > nyq {
                    return Err(format!("stop frequency {hs} above nyquist {nyq}"));
                }
                let mut f = vec![0.0];
                let mut g = vec![0.0];
                if ls != 0.0 {
                    f.push(ls);
                    g.push(0.0);
                }
                f.extend([l, h]);
                g.extend([1.0, 1.0]);
                if hs != nyq {
                    f.extend([hs, nyq]);
                    g.extend([0.0, 0.0]);
                } else {
                    f.push(hs);
                    g.push(0.0);
                }
                (f, g)
            }
            (Some(l), None) => {
                let ls = l - l_trans.unwrap_or(0.0);
                let mut f = vec![ls, l, nyq];
                let mut g = vec![0.0, 1.0, 1.0];
                if ls != 0.0 {
                    f.insert(0, 0.0);
                    g.insert(0, 0.0);
                }
                (f, g)
            }
            (None, Some(h)) => {
                let hs = h + h_trans.unwrap_or(0.0);
                let mut f = vec![0.0, h, hs];
                let mut g = vec![1.0, 1.0, 0.0];
                if hs != nyq {
                    f.push(nyq);
                    g.push(0.0);
                }
                (f, g)
            }
            (None, None) => return Err("a filter needs l_freq or h_freq".into()),
        };
        let n = auto_length(min_trans, sfreq);
        let fnorm: Vec<f64> = freq.iter().map(|f| f / nyq).collect();
        let taps = mne_firwin_design(n, &fnorm, &gain)?;
        Ok(FirFilter {
            taps,
            description: serde_json::json!({
                "op": "bandpass", "l_freq": l_freq, "h_freq": h_freq,
                "l_trans_bandwidth": l_trans, "h_trans_bandwidth": h_trans,
                "design": "mne firwin hamming", "phase": "zero", "pad": "reflect_limited",
                "length": n,
            }),
        })
    }

    /// `Raw.notch_filter(freqs)` with MNE's defaults: FIR band-stop per frequency, notch width
    /// `f/200`, transition bandwidth 1 Hz: pass edges `f ± (f/400 + 0.5)`, stop edges 0.5 Hz
    /// inside them; length `ceil(3.3/0.5 · fs)` made odd.
    pub fn mne_notch(sfreq: f64, freqs: &[f64]) -> Result<Self, String> {
        let nyq = sfreq / 2.0;
        let tb2 = 1.0 / 2.0;
        // filter_data(x, Fs, l_freq=highs, h_freq=lows, trans=tb/2): band-stop ("reverse").
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for &f in freqs {
            let nw = f / 200.0;
            let low = f - nw / 2.0 - tb2; // h_freq
            let high = f + nw / 2.0 + tb2; // l_freq
            // As MNE 1.13 designs it (checked on `_firwin_design`'s arguments): pass edges at
            // `low`/`high`, stop edges `tb/2` inside them.
            let (h_pass, h_stop, l_stop, l_pass) = (low, low + tb2, high - tb2, high);
            if low >= nyq || l_pass > nyq {
                return Err(format!("notch at {f} hz is too close to nyquist {nyq}"));
            }
            pts.extend([(h_pass, 1.0), (h_stop, 0.0), (l_stop, 0.0), (l_pass, 1.0)]);
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut freq: Vec<f64> = pts.iter().map(|p| p.0).collect();
        let mut gain: Vec<f64> = pts.iter().map(|p| p.1).collect();
        if freq.first().is_some_and(|&f| f != 0.0) {
            freq.insert(0, 0.0);
            gain.insert(0, 1.0);
        }
        if freq.last().is_some_and(|&f| f != nyq) {
            freq.push(nyq);
            gain.push(1.0);
        }
        let n = auto_length(tb2, sfreq);
        let fnorm: Vec<f64> = freq.iter().map(|f| f / nyq).collect();
        let taps = mne_firwin_design(n, &fnorm, &gain)?;
        Ok(FirFilter {
            taps,
            description: serde_json::json!({
                "op": "notch", "freqs": freqs, "notch_widths": "f/200", "trans_bandwidth": 1.0,
                "design": "mne firwin hamming", "phase": "zero", "pad": "reflect_limited",
                "length": n,
            }),
        })
    }

    /// Applies the filter zero-phase to one channel like MNE's `_overlap_add_filter`:
    /// `reflect_limited` padding of `min(len(h), n) - 1` samples each side, a linear
    /// convolution, and the centred part.
    pub fn apply(&self, x: &[f64], conv: &mut FftConvolver) -> Vec<f64> {
        let nh = self.taps.len();
        let n = x.len();
        if nh == 1 {
            return x.iter().map(|v| v * self.taps[0]).collect();
        }
        let n_edge = nh.min(n).saturating_sub(1);
        let ext = smart_pad(x, n_edge, n_edge);
        let shift = (nh - 1) / 2 + n_edge;
        conv.convolve_range(&ext, &self.taps, shift, n)
    }
}

/// Overlap-add FFT convolution with cached plans, kernel spectrum and buffers.
#[derive(Default)]
pub struct FftConvolver {
    plans: Vec<ConvPlan>,
}

struct ConvPlan {
    n_fft: usize,
    taps: Vec<f64>,
    hspec: Vec<Complex<f64>>,
    fwd: Arc<dyn RealToComplex<f64>>,
    inv: Arc<dyn ComplexToReal<f64>>,
    buf: Vec<f64>,
    spec: Vec<Complex<f64>>,
    y: Vec<f64>,
    scratch: Vec<Complex<f64>>,
}

/// The power-of-two FFT length with the least overlap-add cost for `nx` samples and `nh`
/// taps (MNE's `_1d_overlap_filter` rule without its small memory term).
fn best_n_fft(nx: usize, nh: usize) -> usize {
    let lo = (2 * nh - 1).next_power_of_two();
    let hi = (nx + nh - 1).next_power_of_two().max(lo);
    let mut best = (f64::INFINITY, lo);
    let mut n = lo;
    while n <= hi {
        let blocks = nx.div_ceil(n - nh + 1) as f64;
        let cost = blocks * n as f64 * ((n as f64).log2() + 1.0);
        if cost < best.0 {
            best = (cost, n);
        }
        n *= 2;
    }
    best.1
}

impl FftConvolver {
    fn plan(&mut self, h: &[f64], n_fft: usize) -> &mut ConvPlan {
        let found = self
            .plans
            .iter()
            .position(|p| p.n_fft == n_fft && p.taps.as_slice() == h);
        let i = match found {
            Some(i) => i,
            None => {
                let fwd = f64::forward(n_fft);
                let inv = f64::inverse(n_fft);
                let mut buf = vec![0.0; n_fft];
                buf[..h.len()].copy_from_slice(h);
                let mut hspec = fwd.make_output_vec();
                // The buffer lengths come from the plan; a failure here is impossible.
                let _ = fwd.process(&mut buf, &mut hspec);
                let scale = 1.0 / n_fft as f64;
                hspec.iter_mut().for_each(|v| *v *= scale);
                let scratch_len = fwd.get_scratch_len().max(inv.get_scratch_len());
                if self.plans.len() >= 8 {
                    self.plans.remove(0);
                }
                self.plans.push(ConvPlan {
                    n_fft,
                    taps: h.to_vec(),
                    hspec,
                    spec: fwd.make_output_vec(),
                    y: inv.make_output_vec(),
                    fwd,
                    inv,
                    buf,
                    scratch: vec![Complex::new(0.0, 0.0); scratch_len],
                });
                self.plans.len() - 1
            }
        };
        &mut self.plans[i]
    }

    /// `full_convolution(x, h)[start .. start + len]` (zero outside the full range).
    pub fn convolve_range(&mut self, x: &[f64], h: &[f64], start: usize, len: usize) -> Vec<f64> {
        let nh = h.len();
        let nx = x.len();
        let mut out = vec![0.0; len];
        if nx == 0 || nh == 0 {
            return out;
        }
        let n_fft = best_n_fft(nx, nh);
        let p = self.plan(h, n_fft);
        let seg = n_fft - nh + 1;
        let end = start + len;
        let mut s0 = 0;
        while s0 < nx {
            let s1 = (s0 + seg).min(nx);
            // This block contributes to full-convolution indices s0 .. s1 + nh - 1.
            if s1 + nh - 1 > start && s0 < end {
                p.buf[..s1 - s0].copy_from_slice(&x[s0..s1]);
                p.buf[s1 - s0..].iter_mut().for_each(|v| *v = 0.0);
                let _ = p
                    .fwd
                    .process_with_scratch(&mut p.buf, &mut p.spec, &mut p.scratch);
                for (a, b) in p.spec.iter_mut().zip(&p.hspec) {
                    *a *= *b;
                }
                let _ = p
                    .inv
                    .process_with_scratch(&mut p.spec, &mut p.y, &mut p.scratch);
                let lo = s0.max(start);
                let hi = (s1 + nh - 1).min(end);
                for (o, v) in out[lo - start..hi - start]
                    .iter_mut()
                    .zip(&p.y[lo - s0..hi - s0])
                {
                    *o += v;
                }
            }
            s0 = s1;
        }
        out
    }
}

/// The taps of `filters` applied one after the other: the convolution of their kernels
/// (`[1.0]` for none).
pub fn combine_taps(filters: &[FirFilter]) -> Vec<f64> {
    let mut combined = vec![1.0];
    for f in filters {
        let mut c = vec![0.0; combined.len() + f.taps.len() - 1];
        for (i, a) in combined.iter().enumerate() {
            for (o, b) in c[i..].iter_mut().zip(&f.taps) {
                *o += a * b;
            }
        }
        combined = c;
    }
    combined
}

/// Zero-phase FIR filters applied one after the other, as consecutive MNE `filter` calls do.
///
/// Away from the signal ends the sequence is one linear convolution with the convolution of
/// the kernels, so a long signal is filtered once with the combined kernel there; the first
/// and last samples that any filter's `reflect_limited` padding reaches are computed by the
/// sequential filters on short end segments, which is exact (each filter output sample only
/// depends on input samples within its half-length).
pub struct FilterChain {
    filters: Vec<FirFilter>,
    combined: Vec<f64>,
    conv: FftConvolver,
}

impl FilterChain {
    /// The chain of `filters` (applied in order).
    pub fn new(filters: Vec<FirFilter>) -> Self {
        let combined = combine_taps(&filters);
        FilterChain {
            filters,
            combined,
            conv: FftConvolver::default(),
        }
    }

    /// Half-length of the combined kernel: output samples closer than this to an end depend
    /// on the edge padding.
    pub fn half_len(&self) -> usize {
        (self.combined.len() - 1) / 2
    }

    fn sequential(&mut self, x: &[f64]) -> Vec<f64> {
        let mut y = x.to_vec();
        for f in &self.filters {
            y = f.apply(&y, &mut self.conv);
        }
        y
    }

    /// Filters one channel.
    pub fn apply(&mut self, x: &[f64]) -> Vec<f64> {
        let n = x.len();
        let half = self.half_len();
        let longest = self.filters.iter().map(|f| f.taps.len()).max().unwrap_or(1);
        // Each end segment: the edge outputs (`half`), the input they need (`half`), and the
        // padding reach of every filter inside the segment (`longest` each).
        let edge = 2 * half + longest * self.filters.len() + 1;
        if self.filters.len() < 2 || n < 3 * edge {
            return self.sequential(x);
        }
        let combined = std::mem::take(&mut self.combined);
        let mut out = self.conv.convolve_range(x, &combined, half, n);
        self.combined = combined;
        let head = self.sequential(&x[..edge]);
        out[..half].copy_from_slice(&head[..half]);
        let tail = self.sequential(&x[n - edge..]);
        out[n - half..].copy_from_slice(&tail[edge - half..]);
        out
    }
}

/// SciPy `resample_poly(x, up, down)` (default Kaiser β=5 window, zero padding) of one
/// channel, `up`/`down` already reduced.
pub fn resample_poly(x: &[f64], up: usize, down: usize) -> Vec<f64> {
    let g = gcd(up, down);
    let (up, down) = (up / g, down / g);
    if up == 1 && down == 1 {
        return x.to_vec();
    }
    let max_rate = up.max(down);
    let f_c = 1.0 / max_rate as f64;
    let half_len = 10 * max_rate;
    let mut h = firwin_kaiser(2 * half_len + 1, f_c, 5.0);
    for v in &mut h {
        *v *= up as f64;
    }
    let n_in = x.len();
    let n_out = (n_in * up).div_ceil(down);
    // SciPy pads h at the front so that the output is centred.
    let n_pre_pad = down - half_len % down;
    let mut n_post_pad = 0usize;
    let n_pre_remove = (half_len + n_pre_pad) / down;
    while upfirdn_len(h.len() + n_pre_pad + n_post_pad, n_in, up, down) < n_out + n_pre_remove {
        n_post_pad += 1;
    }
    let mut hp = vec![0.0; n_pre_pad];
    hp.extend_from_slice(&h);
    hp.resize(hp.len() + n_post_pad, 0.0);
    let y = upfirdn(&hp, x, up, down);
    let n_pre_remove = n_pre_remove.min(y.len());
    let end = (n_pre_remove + n_out).min(y.len());
    y[n_pre_remove..end].to_vec()
}

fn upfirdn_len(nh: usize, nx: usize, up: usize, down: usize) -> usize {
    ((nx - 1) * up + nh).div_ceil(down)
}

/// Upsample by zero insertion, FIR filter with `h`, downsample (SciPy `upfirdn`).
fn upfirdn(h: &[f64], x: &[f64], up: usize, down: usize) -> Vec<f64> {
    let n_out = upfirdn_len(h.len(), x.len(), up, down);
    let mut y = vec![0.0; n_out];
    for (j, out) in y.iter_mut().enumerate() {
        // output index in the upsampled-filtered domain
        let t = j * down;
        // sum over x[i] with t - i*up in [0, nh)
        let i_max = t / up;
        let i_min = (t + 1).saturating_sub(h.len()).div_ceil(up);
        let mut acc = 0.0;
        let i_hi = i_max.min(x.len().saturating_sub(1));
        if i_min <= i_hi {
            for (i, xi) in x.iter().enumerate().take(i_hi + 1).skip(i_min) {
                let k = t - i * up;
                if k < h.len() {
                    acc += xi * h[k];
                }
            }
        }
        *out = acc;
    }
    y
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Common average reference: subtracts the mean over channels at every time point.
pub fn common_average(x: &mut [Vec<f64>]) {
    let c = x.len();
    if c == 0 {
        return;
    }
    let t = x[0].len();
    for i in 0..t {
        let m = x.iter().map(|ch| ch[i]).sum::<f64>() / c as f64;
        for ch in x.iter_mut() {
            ch[i] -= m;
        }
    }
}

/// NumPy `quantile(a, q, method="linear")`.
pub fn quantile_linear(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut a = values.to_vec();
    a.sort_by(f64::total_cmp);
    let pos = q * (a.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(a.len() - 1);
    let t = pos - lo as f64;
    let (x0, x1) = (a[lo], a[hi]);
    let d = x1 - x0;
    if t >= 0.5 {
        x1 - d * (1.0 - t)
    } else {
        x0 + d * t
    }
}

/// BIOT's per-channel scaling: `x / (quantile(|x|, q) + eps)`.
pub fn percentile_scale(x: &mut [f64], q: f64, eps: f64) -> f64 {
    let abs: Vec<f64> = x.iter().map(|v| v.abs()).collect();
    let s = quantile_linear(&abs, q) + eps;
    for v in x.iter_mut() {
        *v /= s;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_matches_mne() {
        // _smart_pad(np.arange(5.), (3, 7)) with reflect_limited
        let p = smart_pad(&[0.0, 1.0, 2.0, 3.0, 4.0], 3, 7);
        assert_eq!(
            p,
            vec![
                -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.0, 0.0, 0.0
            ]
        );
    }

    #[test]
    fn identity_filters() {
        let f = FirFilter::mne_filter(200.0, Some(0.3), Some(75.0)).unwrap();
        assert_eq!(f.taps.len(), 2201);
        let s: f64 = f.taps.iter().sum();
        assert!(s.abs() < 1e-3, "dc gain {s}");
    }

    #[test]
    fn notch_matches_mne() {
        // mne.filter.create_filter(None, 200., [60.65], [59.35], l_trans_bandwidth=0.5,
        // h_trans_bandwidth=0.5): 1321 taps, centre tap 0.9920417499046813.
        let f = FirFilter::mne_notch(200.0, &[60.0]).unwrap();
        assert_eq!(f.taps.len(), 1321);
        assert!(
            (f.taps[660] - 0.9920417499046813).abs() < 1e-12,
            "{}",
            f.taps[660]
        );
    }

    /// A deterministic test signal: a few sines, a drift and a pseudo-random part.
    fn signal(n: usize) -> Vec<f64> {
        let mut state = 12345u64;
        (0..n)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let t = i as f64 / 200.0;
                30.0 * (2.0 * std::f64::consts::PI * 10.0 * t).sin()
                    + 10.0 * (2.0 * std::f64::consts::PI * 60.0 * t).sin()
                    + 5.0 * t
                    + 20.0 * r
            })
            .collect()
    }

    fn max_rel(a: &[f64], b: &[f64]) -> f64 {
        let peak = b.iter().fold(0f64, |m, v| m.max(v.abs()));
        a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs())) / peak
    }

    #[test]
    fn filter_chain_equals_sequential_filters() {
        let x = signal(40_000);
        let bp = FirFilter::mne_filter(200.0, Some(0.3), Some(75.0)).unwrap();
        let notch = FirFilter::mne_notch(200.0, &[60.0]).unwrap();
        let mut conv = FftConvolver::default();
        let want = notch.apply(&bp.apply(&x, &mut conv), &mut conv);
        let mut chain = FilterChain::new(vec![bp, notch]);
        let got = chain.apply(&x);
        assert_eq!(got.len(), want.len());
        // Everywhere, ends included.
        assert!(max_rel(&got, &want) < 1e-12, "{}", max_rel(&got, &want));
    }

    #[test]
    fn filters_in_the_resampled_spectrum_equal_sequential_filters_inside() {
        let x = signal(100_000); // "256 Hz"
        let r = MneResampler::new(x.len(), 256.0, 200.0);
        let bp = FirFilter::mne_filter(200.0, Some(0.3), Some(75.0)).unwrap();
        let notch = FirFilter::mne_notch(200.0, &[60.0]).unwrap();
        let half = (bp.taps.len() - 1) / 2 + (notch.taps.len() - 1) / 2;
        let mut conv = FftConvolver::default();
        let want = notch.apply(&bp.apply(&r.apply(&x), &mut conv), &mut conv);
        let resp = r.response(&combine_taps(&[bp, notch]));
        let mut got = Vec::new();
        r.apply_into(&x, Some(&resp), &mut r.work(), &mut got);
        let n = want.len();
        let e = max_rel(&got[half..n - half], &want[half..n - half]);
        assert!(e < 1e-12, "{e}");
    }

    #[test]
    fn float32_path_is_within_its_bound() {
        let x0 = signal(120_000); // "256 Hz"
        let r = MneResampler::new(x0.len(), 256.0, 200.0);
        let bp = FirFilter::mne_filter(200.0, Some(0.3), Some(75.0)).unwrap();
        let notch = FirFilter::mne_notch(200.0, &[60.0]).unwrap();
        let resp = r.response(&combine_taps(&[bp, notch]));
        let mut bounds = Vec::new();
        for (offset, resp) in [
            (0.0, None),
            (5e4, None),
            (0.0, Some(&resp)),
            (-3e5, Some(&resp)),
        ] {
            let x: Vec<f64> = x0.iter().map(|v| v + offset).collect();
            let resp = resp.map(Vec::as_slice);
            let mut want = Vec::new();
            r.apply_into(&x, resp, &mut r.work(), &mut want);
            let mut fw = r.fast_work(resp).unwrap();
            let (got, bound) = r.apply_fast(&x, &mut fw);
            assert_eq!(got.len(), want.len());
            let err = got
                .iter()
                .zip(&want)
                .fold(0f64, |a, (g, w)| a.max((g - w).abs()));
            assert!(
                err <= bound,
                "offset {offset}: error {err:e} > bound {bound:e}"
            );
            eprintln!("offset {offset}: error {err:e}, bound {bound:e}");
            bounds.push(bound);
        }
        // The offset does not enter the float32 rounding.
        for pair in bounds.chunks(2) {
            assert!((pair[1] - pair[0]).abs() <= 1e-3 * pair[0], "{pair:?}");
        }
    }

    #[test]
    fn nearest_index_is_exact_on_long_inputs() {
        // 600 s at 500 Hz → 256 Hz: floor(float32(i) · 1.953125) is off by one above i = 134,217.
        let n_in = 300_000;
        let n_out = 153_600;
        let x: Vec<f64> = (0..n_in).map(|i| i as f64).collect();
        let y = nearest(&x, n_out);
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v as usize, i * n_in / n_out, "output sample {i}");
        }
    }

    #[test]
    fn nearest_segments_restart_every_segment() {
        // 4 s segments at 500 Hz → 1024 samples each; the 1.5 s tail → 384.
        let x: Vec<f64> = (0..2000 * 3 + 750).map(|i| i as f64).collect();
        let y = nearest_segments(&x, 4.0, 500.0, 256.0);
        assert_eq!(y.len(), 3 * 1024 + 384);
        for k in 0..3 {
            for j in 0..1024 {
                assert_eq!(y[k * 1024 + j] as usize, k * 2000 + j * 2000 / 1024);
            }
        }
        assert_eq!(y[3 * 1024 + 383] as usize, 6000 + 383 * 750 / 384);
    }

    #[test]
    fn nearest_identity() {
        let x = [1.0, 2.0, 3.0];
        assert_eq!(nearest(&x, 3), x.to_vec());
        assert_eq!(nearest(&x, 6), vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    }
}
