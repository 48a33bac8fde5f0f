//! Generic BIDS electrophysiology trees with their MRI (`adapter = "bids_ephys_mri"`, the
//! `bids_eeg`, `bids_ieeg` and `bids_meg` registry entries).
//!
//! An OpenNeuro EEG/iEEG/MEG dataset usually ships a T1w (and sometimes more MRI) beside its
//! recordings. Such a tree is one source: this adapter plans the units of both
//! [`BidsEphys`] (every `eeg/`, `ieeg/` and `meg/` recording, whichever datatype made the tree
//! detected) and [`Bids`] (`anat/`, `func/`, `dwi/`, `pet/` images), so the subjects' recordings
//! and images get the same pseudonyms in one output. A unit is converted by the adapter that
//! planned it (MRI units are the ones whose detail names a BIDS `kind`).

use std::path::Path;

use bomdata_schemas::Modality;

use super::bids::Bids;
use super::bids_ephys::BidsEphys;
use crate::Result;
use crate::source::{SampleSink, Source, Unit, UnitContext};

/// BIDS EEG/iEEG/MEG recordings plus the tree's MRI.
#[derive(Clone, Copy, Debug, Default)]
pub struct BidsEphysMri;

/// Whether a unit was planned by the MRI adapter.
fn is_mri(unit: &Unit) -> bool {
    unit.detail.get("kind").is_some()
}

impl Source for BidsEphysMri {
    fn name(&self) -> &'static str {
        "bids_ephys_mri"
    }

    fn free_session_labels(&self) -> bool {
        true
    }

    fn modalities(&self) -> &'static [Modality] {
        &[
            Modality::Eeg,
            Modality::Ieeg,
            Modality::Meg,
            Modality::Smri,
            Modality::Fmri,
            Modality::Dmri,
            Modality::Pet,
        ]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let mut units = BidsEphys.plan(root)?;
        units.extend(Bids.plan(root)?);
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        if is_mri(unit) {
            Bids.convert(unit, ctx, sink)
        } else {
            BidsEphys.convert(unit, ctx, sink)
        }
    }
}
