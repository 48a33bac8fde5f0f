//! MEG sensor geometry of a recording into its canonical channels.
//!
//! The FIF reader gives each MEG and reference MEG channel its coil type, position and axes in
//! head coordinates (device coordinates when the file records no device → head
//! transformation); [`attach`] copies them to the laid-out channels of MEG type: `xyz_mm` is
//! the coil position in millimetres, `sensor` the coil type, the frame and the three axes.
//! When the recording has no other positions, `coord_frame` becomes `fif_head` (or
//! `fif_device`). Channels of other types are left as they are.

use bomdata_ephys::fif;
use bomdata_schemas::eeg;

use super::Layout;

/// Copies the geometry of `sensors` (one per file channel, `None` where there is none) onto the
/// MEG channels of `layout`.
pub fn attach(layout: &mut Layout, sensors: &[Option<fif::Sensor>]) {
    let mut frame = None;
    for (ch, &i) in layout.meta.channels.iter_mut().zip(&layout.select) {
        let Some(Some(s)) = sensors.get(i) else {
            continue;
        };
        if !ch.channel_type.is_meg() {
            continue;
        }
        ch.xyz_mm = s.pos.map(|v| v * 1000.0);
        ch.sensor = Some(eeg::Sensor {
            coil_type: s.coil_type,
            frame: s.frame.name().to_string(),
            ex: s.ex,
            ey: s.ey,
            ez: s.ez,
        });
        frame = Some(s.frame);
    }
    if let Some(f) = frame
        && layout.meta.coord_frame.is_none()
    {
        layout.meta.coord_frame = Some(format!("fif_{}", f.name()));
    }
}
