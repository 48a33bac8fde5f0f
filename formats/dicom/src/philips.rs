//! Philips floating-point scaling: Philips MR images carry, beside the display modality LUT
//! (RescaleSlope RS, RescaleIntercept RI), a private scale slope SS (2005,xx0E under
//! `Philips MR Imaging DD 001`). The "precise" floating-point value of a stored value SV is
//! `(SV · RS + RI) / (RS · SS)` (Chenevert et al., PMC3998685), i.e. the modality LUT
//! `(1 / SS, RI / (RS · SS))`. dcm2niix writes these values by default (`-p y`; its JSON says
//! `UsePhilipsFloatNotDisplayScaling: 1`), so the stackers follow it through
//! [`crate::Image::rescale`]; [`scale_slope`] gives SS for the metadata.

use crate::parse::File;
use crate::sequence::Dataset;

/// The private creator of the scale slope (group 2005).
pub const CREATOR: &str = "Philips MR Imaging DD 001";

/// Whether Manufacturer (0008,0070) names Philips.
fn is_philips(f: &File) -> bool {
    f.text(0x0008_0070)
        .is_some_and(|m| m.trim().to_ascii_uppercase().starts_with("PHILIPS"))
}

/// The Philips scale slope SS of a Philips instance (top level), when present, finite and not
/// zero.
pub fn scale_slope(f: &File) -> Option<f64> {
    if !is_philips(f) {
        return None;
    }
    let top = Dataset::top(f);
    let block = top.private_block(0x2005, CREATOR)?;
    let tag = 0x2005_0000 | (block << 8) | 0x0E;
    let ss = top.floats(tag, *b"FL")?.first().copied()?;
    (ss.is_finite() && ss != 0.0).then_some(ss)
}

/// The modality LUT (slope, intercept) of an instance: the display one (`display`, from
/// RescaleSlope/RescaleIntercept), replaced by the precise floating-point one when the
/// instance is a Philips image with a scale slope and a non-zero RescaleSlope (as dcm2niix).
pub fn modality_lut(f: &File, display: Option<(f64, f64)>) -> Option<(f64, f64)> {
    let Some(ss) = scale_slope(f) else {
        return display;
    };
    let (rs, ri) = display.unwrap_or((1.0, 0.0));
    if rs == 0.0 || !rs.is_finite() || !ri.is_finite() {
        return display;
    }
    Some((1.0 / ss, ri / (rs * ss)))
}
