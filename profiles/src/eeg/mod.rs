//! EEG profiles (see [`profile`] for the pipeline and the defaults of each model), their DSP
//! ([`dsp`]), the 10-05 electrode positions and channel names ([`channels`]) and
//! spherical-spline interpolation ([`interp`]).

pub mod channels;
pub mod dsp;
mod inputs;
pub mod interp;
pub mod profile;

pub use profile::*;
