//! The canonical channels an EEG profile reads, so that a reader that knows the profile before
//! it decodes (one recording straight to training windows) decodes only those.
//!
//! A one-hour 64-channel recording is a 236 MB float32 canonical signal; the `cbramod` profile
//! reads 19 of its rows. Decoding only the rows the profile maps (and the canonical metadata
//! of those channels only) gives the same windows, byte for byte, for a third of the decode
//! work and of the fresh memory a new process must fault in (bench/eeg_profiles).

use bomdata_schemas::eeg::{Channel, ChannelType};

use super::channels;
use super::profile::EegProfile;

impl EegProfile {
    /// Indexes (ascending) of the channels of `channels` (a recording's canonical channel list)
    /// that this profile reads, when the profile's set is a fixed list and every entry of it
    /// (both electrodes of a bipolar `A-B` entry) is present; a recording reduced to these
    /// channels, in this order, gives the same windows. `None` when the profile needs every
    /// channel (the `all` set, or a missing channel that the missing-channel policy fills
    /// in from the others).
    pub fn input_channels(&self, channels: &[Channel]) -> Option<Vec<usize>> {
        let list = channels::resolve(&self.config().channels)?;
        // The same lookup as the profile's channel mapping: EEG channels by key, first wins.
        let mut index = std::collections::HashMap::new();
        for (i, ch) in channels.iter().enumerate() {
            if ch.channel_type == ChannelType::Eeg {
                index.entry(channels::key(&ch.name)).or_insert(i);
            }
        }
        let mut out = Vec::with_capacity(list.len());
        for name in &list {
            match name.split_once('-') {
                Some((a, b)) => {
                    out.push(*index.get(&channels::key(a))?);
                    out.push(*index.get(&channels::key(b))?);
                }
                None => out.push(*index.get(&channels::key(name))?),
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Params;

    fn ch(name: &str, t: ChannelType) -> Channel {
        Channel {
            name: name.into(),
            original_name: name.into(),
            channel_type: t,
            unit: "uV".into(),
            xyz_mm: [f64::NAN; 3],
            sensor: None,
        }
    }

    #[test]
    fn cbramod_reads_its_19_channels_and_needs_all_when_one_is_missing() {
        let p = EegProfile::new("cbramod", &Params::new()).unwrap_or_else(|e| panic!("{e}"));
        let names = "X1,FP1,FP2,F3,F4,C3,C4,P3,P4,O1,O2,F7,F8,T3,T4,T5,T6,FZ,CZ,PZ,X2";
        let mut chans: Vec<Channel> = names.split(',').map(|n| ch(n, ChannelType::Eeg)).collect();
        chans.push(ch("ECG", ChannelType::Ecg));
        let got = p.input_channels(&chans).unwrap_or_default();
        assert_eq!(got, (1..=19).collect::<Vec<_>>());
        chans.remove(5);
        assert_eq!(p.input_channels(&chans), None);
        let all = EegProfile::new("generic", &Params::new()).unwrap_or_else(|e| panic!("{e}"));
        if all.config().channels == "all" {
            assert_eq!(all.input_channels(&chans), None);
        }
    }
}
