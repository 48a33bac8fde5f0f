//! Deterministic epoch orders.
//!
//! An epoch's order is a pure function of the datasets' selections, the [`OrderOptions`] and
//! `(seed, epoch)`: it never depends on the world size, rank, worker or thread count, so every
//! rank computes the same global sequence and takes its share of it (see [`crate::partition`]).
//! The sequence is made of *units* of a fixed width: one sample (the default), one group batch
//! (all samples share a group key) or one subject pairing (one slot per modality, missing slots
//! masked).

use std::collections::HashMap;
use std::sync::Arc;

use crate::dataset::{Dataset, SampleInfo};
use crate::rng::Rng;
use crate::{Error, Result};

/// A sample across datasets: dataset number in the [`Mixture`] (upper 16 bits) and position in
/// that dataset's selection (lower 48 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleId(pub u64);

impl SampleId {
    /// The empty slot of a unit (modality absent, group batch padding).
    pub const MISSING: SampleId = SampleId(u64::MAX);

    /// Builds an id.
    pub fn new(dataset: usize, index: usize) -> SampleId {
        SampleId(((dataset as u64) << 48) | index as u64)
    }

    /// Dataset number.
    pub fn dataset(self) -> usize {
        (self.0 >> 48) as usize
    }

    /// Position in the dataset's selection.
    pub fn index(self) -> usize {
        (self.0 & ((1 << 48) - 1)) as usize
    }

    /// True for [`SampleId::MISSING`].
    pub fn is_missing(self) -> bool {
        self == SampleId::MISSING
    }
}

/// Size bound of the shuffle buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferSize {
    /// At most this many samples.
    Samples(usize),
    /// At most this many bytes of sample data (index sizes); always at least one sample.
    Bytes(u64),
}

/// How samples are shuffled within an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shuffle {
    /// Shard order, then index order (unless `shuffle_shards`).
    None,
    /// Shards permuted, then a bounded shuffle buffer over the stream: reads stay local to a
    /// few shards at a time.
    Buffer(BufferSize),
    /// A uniform permutation of the whole selection through the index.
    Global,
}

/// Ordering options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderOptions {
    /// The seed; with the epoch it fixes the order.
    pub seed: u64,
    /// Sample shuffling.
    pub shuffle: Shuffle,
    /// Permute shard order each epoch (implied by `Shuffle::Buffer`).
    pub shuffle_shards: bool,
}

impl Default for OrderOptions {
    fn default() -> Self {
        OrderOptions {
            seed: 0,
            shuffle: Shuffle::Buffer(BufferSize::Samples(4096)),
            shuffle_shards: true,
        }
    }
}

/// Several datasets mixed with weights.
///
/// One epoch of the mixture holds `epoch_len` samples (default: the sum of the datasets' sizes);
/// dataset `i` contributes `round(weight_i / sum * epoch_len)` of them (largest remainder), taken
/// from its own epoch order and continued into its next cycles when that exceeds its size
/// (up-sampling) or cut short (down-sampling), interleaved at random (seeded).
#[derive(Clone, Debug)]
pub struct Mixture {
    datasets: Vec<Arc<Dataset>>,
    weights: Vec<f64>,
    epoch_len: Option<u64>,
}

impl Mixture {
    /// One dataset.
    pub fn single(ds: Dataset) -> Mixture {
        Mixture {
            datasets: vec![Arc::new(ds)],
            weights: vec![1.0],
            epoch_len: None,
        }
    }

    /// Datasets with weights (positive, finite).
    pub fn weighted(parts: Vec<(Dataset, f64)>) -> Result<Mixture> {
        if parts.is_empty() || parts.len() > u16::MAX as usize {
            return Err(Error::config("a mixture needs 1 to 65535 datasets"));
        }
        if parts.iter().any(|(_, w)| !(w.is_finite() && *w > 0.0)) {
            return Err(Error::config("mixture weights must be positive and finite"));
        }
        let (datasets, weights) = parts.into_iter().map(|(d, w)| (Arc::new(d), w)).unzip();
        Ok(Mixture {
            datasets,
            weights,
            epoch_len: None,
        })
    }

    /// Sets the number of samples per mixture epoch.
    pub fn with_epoch_len(mut self, n: u64) -> Mixture {
        self.epoch_len = Some(n);
        self
    }

    /// The datasets.
    pub fn datasets(&self) -> &[Arc<Dataset>] {
        &self.datasets
    }

    /// Information about a sample.
    pub fn info(&self, id: SampleId) -> Option<SampleInfo<'_>> {
        self.datasets.get(id.dataset())?.info(id.index())
    }

    fn counts(&self) -> Vec<u64> {
        let total: u64 = self
            .epoch_len
            .unwrap_or_else(|| self.datasets.iter().map(|d| d.len() as u64).sum());
        if self.datasets.len() == 1 {
            return vec![total];
        }
        let wsum: f64 = self.weights.iter().sum();
        let exact: Vec<f64> = self
            .weights
            .iter()
            .map(|w| w / wsum * total as f64)
            .collect();
        let mut c: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
        let mut left = total.saturating_sub(c.iter().sum());
        let mut order: Vec<usize> = (0..c.len()).collect();
        order.sort_by(|&a, &b| {
            let fa = exact[a] - exact[a].floor();
            let fb = exact[b] - exact[b].floor();
            fb.total_cmp(&fa).then(a.cmp(&b))
        });
        for &i in order.iter().cycle().take(c.len() * 2) {
            if left == 0 {
                break;
            }
            c[i] += 1;
            left -= 1;
        }
        c
    }
}

/// How samples are combined into units.
#[derive(Clone, Debug, Default)]
pub enum Units {
    /// One sample per unit.
    #[default]
    Samples,
    /// Group-aware batches: every unit is a batch of `batch_size` samples sharing one group key
    /// (from `key`); a group's last, short batch is dropped or padded with missing slots.
    GroupBatches {
        /// Samples per batch.
        batch_size: usize,
        /// Drop short batches instead of padding them.
        drop_partial: bool,
    },
    /// Same-subject pairing across modalities: one slot per entry of `modalities`; see
    /// [`PairRow`].
    Pairs {
        /// Slot order.
        modalities: Vec<String>,
        /// Which subject, session and modality each sample key belongs to.
        rows: Vec<PairRow>,
    },
}

/// One row of the subjects table as the loader needs it for pairing: the sample key and the
/// subject, session and modality it belongs to (built by the caller from `subjects.parquet` and
/// the index; the loader does not read Parquet).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PairRow {
    /// Sample key.
    pub key: String,
    /// Pseudonymous subject.
    pub subject: String,
    /// Session label (empty when none).
    pub session: String,
    /// Modality name, matched against [`Units::Pairs`] `modalities`.
    pub modality: String,
}

/// The global order of one epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochPlan {
    /// The epoch.
    pub epoch: u64,
    /// Slots per unit.
    pub width: usize,
    /// `len() * width` sample ids, unit after unit.
    pub ids: Vec<SampleId>,
}

impl EpochPlan {
    /// Number of units.
    pub fn len(&self) -> usize {
        self.ids.len().checked_div(self.width).unwrap_or(0)
    }

    /// True when the epoch is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The slots of unit `u`.
    pub fn unit(&self, u: usize) -> &[SampleId] {
        &self.ids[u * self.width..(u + 1) * self.width]
    }
}

/// A group key function for [`Planner::with_groups`].
pub type GroupFn<'a> = dyn FnMut(&SampleInfo<'_>) -> Result<String> + 'a;

/// Computes epoch plans.
#[derive(Debug)]
pub struct Planner {
    mixture: Mixture,
    order: OrderOptions,
    units: Units,
    /// Per dataset, per selected sample: group number (group batching).
    groups: Vec<Vec<u32>>,
    /// Pairing: per dataset, per selected sample: (unit number, slot) or u32::MAX.
    pair_of: Vec<Vec<(u32, u32)>>,
    /// Pairing: slots of every pairing unit.
    pair_units: Vec<SampleId>,
    /// Bucket batches: the fields whose shapes make the group key (empty: a caller's key).
    buckets: Option<Vec<String>>,
    fingerprint: u64,
}

const TAG_SHARDS: u64 = 0x5348_4152_4453;
const TAG_BUFFER: u64 = 0x4255_4646_4552;
const TAG_GLOBAL: u64 = 0x474c_4f42_414c;
const TAG_MIX: u64 = 0x004d_4958;
const TAG_BUCKETS: u64 = 0x4255_434b_4554;

impl Planner {
    /// A planner of one-sample or pairing units (for group batches use
    /// [`Planner::with_groups`]).
    pub fn new(mixture: Mixture, order: OrderOptions, units: Units) -> Result<Planner> {
        if matches!(units, Units::GroupBatches { .. }) {
            return Err(Error::config(
                "group batches need a group key: use Planner::with_groups",
            ));
        }
        Self::build(mixture, order, units, None)
    }

    /// A planner of group-aware batches of `batch_size` samples whose `key` values agree.
    pub fn with_groups(
        mixture: Mixture,
        order: OrderOptions,
        batch_size: usize,
        drop_partial: bool,
        key: &mut GroupFn<'_>,
    ) -> Result<Planner> {
        Self::build(
            mixture,
            order,
            Units::GroupBatches {
                batch_size,
                drop_partial,
            },
            Some(key),
        )
    }

    fn build(
        mixture: Mixture,
        order: OrderOptions,
        units: Units,
        key: Option<&mut GroupFn<'_>>,
    ) -> Result<Planner> {
        let mut groups = Vec::new();
        let mut pair_of = Vec::new();
        let mut pair_units = Vec::new();
        let mut fp = Rng::new(&[order.seed]).next_u64();
        for d in &mixture.datasets {
            fp = Rng::new(&[fp, d.len() as u64]).next_u64();
        }
        match (&units, key) {
            (Units::GroupBatches { batch_size, .. }, Some(key)) => {
                if *batch_size == 0 {
                    return Err(Error::config("group batch size must be at least 1"));
                }
                let mut names: HashMap<String, u32> = HashMap::new();
                for d in &mixture.datasets {
                    let mut g = Vec::with_capacity(d.len());
                    for info in d.infos() {
                        let k = key(&info)?;
                        let n = names.len() as u32;
                        g.push(*names.entry(k).or_insert(n));
                    }
                    groups.push(g);
                }
            }
            (Units::GroupBatches { .. }, None) => {
                return Err(Error::config("group batches need a group key"));
            }
            (Units::Pairs { modalities, rows }, _) => {
                if modalities.is_empty() {
                    return Err(Error::config("pairing needs at least one modality"));
                }
                let slot_of: HashMap<&str, u32> = modalities
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.as_str(), i as u32))
                    .collect();
                let by_key: HashMap<&str, &PairRow> =
                    rows.iter().map(|r| (r.key.as_str(), r)).collect();
                // (subject, session) -> per slot list of sample ids, in selection order.
                let mut group_of: HashMap<(&str, &str), usize> = HashMap::new();
                let mut lists: Vec<Vec<Vec<SampleId>>> = Vec::new();
                for (di, d) in mixture.datasets.iter().enumerate() {
                    for (i, info) in d.infos().enumerate() {
                        let Some(r) = by_key.get(info.key()) else {
                            continue;
                        };
                        let Some(&slot) = slot_of.get(r.modality.as_str()) else {
                            continue;
                        };
                        let n = lists.len();
                        let g = *group_of
                            .entry((r.subject.as_str(), r.session.as_str()))
                            .or_insert(n);
                        if g == n {
                            lists.push(vec![Vec::new(); modalities.len()]);
                        }
                        lists[g][slot as usize].push(SampleId::new(di, i));
                    }
                }
                pair_of = mixture
                    .datasets
                    .iter()
                    .map(|d| vec![(u32::MAX, u32::MAX); d.len()])
                    .collect();
                let width = modalities.len();
                for per_slot in &lists {
                    let k = per_slot.iter().map(Vec::len).max().unwrap_or(0);
                    for j in 0..k {
                        let u = (pair_units.len() / width) as u32;
                        for (slot, l) in per_slot.iter().enumerate() {
                            let id = l.get(j).copied().unwrap_or(SampleId::MISSING);
                            if !id.is_missing() {
                                pair_of[id.dataset()][id.index()] = (u, slot as u32);
                            }
                            pair_units.push(id);
                        }
                    }
                }
            }
            (Units::Samples, _) => {}
        }
        let width = match &units {
            Units::Samples => 1,
            Units::GroupBatches { batch_size, .. } => *batch_size,
            Units::Pairs { modalities, .. } => modalities.len(),
        };
        fp = Rng::new(&[fp, width as u64, pair_units.len() as u64]).next_u64();
        Ok(Planner {
            mixture,
            order,
            units,
            groups,
            pair_of,
            pair_units,
            buckets: None,
            fingerprint: fp,
        })
    }

    /// A planner of *bucket batches* ([`crate::ShapePolicy::Bucket`]): every unit is a batch of
    /// `batch_size` samples whose arrays in `fields` (member names, `fmri.npy`) have one dtype
    /// and shape each. Samples without a field form buckets of their own.
    ///
    /// Bucketing is group batching ([`Planner::with_groups`]) keyed by shape, so it inherits
    /// its guarantees: the epoch's sample order is computed as usual (seeded shard permutation
    /// and shuffle buffer), then each sample joins the pending batch of its shape, and a batch
    /// enters the plan when full; the partial batch of each shape follows at the end of the
    /// epoch (padded with missing slots, which the loader leaves out, or dropped with
    /// `drop_partial`). The plan is a pure function of `(seed, epoch)` and the selection, its
    /// units are whole batches, so ranks split it, and a [`crate::LoaderState`] resumes it,
    /// exactly as any plan: every sample once per epoch (unless `drop_partial`), with any world
    /// size. Use it with [`crate::LoaderOptions::batch_size`] 1: the loader collates a bucket
    /// batch's slots as the rows of one batch.
    ///
    /// Planning reads the `.npy` header of every selected sample's fields (a compressed member
    /// is decompressed once).
    pub fn with_buckets(
        mixture: Mixture,
        order: OrderOptions,
        fields: &[String],
        batch_size: usize,
        drop_partial: bool,
    ) -> Result<Planner> {
        if fields.is_empty() {
            return Err(Error::config("bucket batches need at least one field"));
        }
        let mut key = |info: &SampleInfo<'_>| shape_key(info, fields);
        let mut p = Self::with_bucket_key(mixture, order, batch_size, drop_partial, &mut key)?;
        p.buckets = Some(fields.to_vec());
        Ok(p)
    }

    /// Bucket batches by a caller's key (as [`Planner::with_buckets`], any key): the loader
    /// collates each unit's slots as the rows of one batch.
    pub fn with_bucket_key(
        mixture: Mixture,
        order: OrderOptions,
        batch_size: usize,
        drop_partial: bool,
        key: &mut GroupFn<'_>,
    ) -> Result<Planner> {
        let mut p = Self::with_groups(mixture, order, batch_size, drop_partial, key)?;
        p.buckets = Some(Vec::new());
        p.fingerprint = Rng::new(&[p.fingerprint, TAG_BUCKETS]).next_u64();
        Ok(p)
    }

    /// For a bucket planner, the fields it buckets by (empty for a caller's key); `None`
    /// otherwise.
    pub fn bucket_fields(&self) -> Option<&[String]> {
        self.buckets.as_deref()
    }

    /// The mixture.
    pub fn mixture(&self) -> &Mixture {
        &self.mixture
    }

    /// The ordering options.
    pub fn order(&self) -> &OrderOptions {
        &self.order
    }

    /// The unit kind.
    pub fn units(&self) -> &Units {
        &self.units
    }

    /// Slots per unit.
    pub fn width(&self) -> usize {
        match &self.units {
            Units::Samples => 1,
            Units::GroupBatches { batch_size, .. } => *batch_size,
            Units::Pairs { modalities, .. } => modalities.len(),
        }
    }

    /// A number identifying the seed, selection sizes and unit kind, stored in the loader state
    /// to catch a resume against a different configuration.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The order of dataset `d`'s selection for (epoch, cycle), as selection positions.
    fn dataset_order(&self, d: usize, epoch: u64, cycle: u64) -> Vec<u32> {
        let ds = &self.mixture.datasets[d];
        let seed = self.order.seed;
        let sel = ds.selection();
        // runs of consecutive selected samples per shard
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i < sel.len() {
            let mut j = i + 1;
            while j < sel.len() && sel[j].shard == sel[i].shard {
                j += 1;
            }
            runs.push((i, j));
            i = j;
        }
        let base = [seed, epoch, cycle, d as u64];
        let shuffle_shards =
            self.order.shuffle_shards || matches!(self.order.shuffle, Shuffle::Buffer(_));
        if shuffle_shards {
            Rng::new(&[base[0], base[1], base[2], base[3], TAG_SHARDS]).shuffle(&mut runs);
        }
        let stream = runs.iter().flat_map(|&(a, b)| (a as u32)..(b as u32));
        match self.order.shuffle {
            Shuffle::None => stream.collect(),
            Shuffle::Global => {
                let mut v: Vec<u32> = (0..sel.len() as u32).collect();
                Rng::new(&[base[0], base[1], base[2], base[3], TAG_GLOBAL]).shuffle(&mut v);
                v
            }
            Shuffle::Buffer(size) => {
                let mut rng = Rng::new(&[base[0], base[1], base[2], base[3], TAG_BUFFER]);
                let mut out = Vec::with_capacity(sel.len());
                let mut buf: Vec<u32> = Vec::new();
                let mut buf_bytes = 0u64;
                let bytes_of = |i: u32| ds.index_sample(sel[i as usize]).size;
                let full = |n: usize, b: u64| match size {
                    BufferSize::Samples(k) => n >= k.max(1),
                    BufferSize::Bytes(k) => n >= 1 && b >= k,
                };
                for i in stream {
                    buf.push(i);
                    buf_bytes += bytes_of(i);
                    while full(buf.len(), buf_bytes) {
                        let j = rng.below(buf.len() as u64) as usize;
                        let x = buf.swap_remove(j);
                        buf_bytes -= bytes_of(x);
                        out.push(x);
                    }
                }
                while !buf.is_empty() {
                    let j = rng.below(buf.len() as u64) as usize;
                    out.push(buf.swap_remove(j));
                }
                out
            }
        }
    }

    /// The mixed sample sequence of an epoch.
    fn sample_sequence(&self, epoch: u64) -> Vec<SampleId> {
        let counts = self.mixture.counts();
        let mut per: Vec<Vec<SampleId>> = Vec::with_capacity(counts.len());
        for (d, &c) in counts.iter().enumerate() {
            let n = self.mixture.datasets[d].len() as u64;
            let mut v = Vec::with_capacity(c as usize);
            let mut cycle = 0;
            while (v.len() as u64) < c && n > 0 {
                let take = (c - v.len() as u64).min(n) as usize;
                let o = self.dataset_order(d, epoch, cycle);
                v.extend(o[..take].iter().map(|&i| SampleId::new(d, i as usize)));
                cycle += 1;
            }
            per.push(v);
        }
        if per.len() == 1 {
            return per.pop().unwrap_or_default();
        }
        let mut labels: Vec<u16> = per
            .iter()
            .enumerate()
            .flat_map(|(d, v)| std::iter::repeat_n(d as u16, v.len()))
            .collect();
        Rng::new(&[self.order.seed, epoch, TAG_MIX]).shuffle(&mut labels);
        let mut pos = vec![0usize; per.len()];
        labels
            .into_iter()
            .map(|d| {
                let d = d as usize;
                let id = per[d][pos[d]];
                pos[d] += 1;
                id
            })
            .collect()
    }

    /// The plan of `epoch`.
    pub fn epoch(&self, epoch: u64) -> EpochPlan {
        let seq = self.sample_sequence(epoch);
        let width = self.width();
        let ids = match &self.units {
            Units::Samples => seq,
            Units::GroupBatches {
                batch_size,
                drop_partial,
            } => {
                let mut pending: HashMap<u32, Vec<SampleId>> = HashMap::new();
                let mut first_seen: Vec<u32> = Vec::new();
                let mut out = Vec::with_capacity(seq.len());
                for id in seq {
                    let g = self.groups[id.dataset()][id.index()];
                    let p = pending.entry(g).or_insert_with(|| {
                        first_seen.push(g);
                        Vec::with_capacity(*batch_size)
                    });
                    p.push(id);
                    if p.len() == *batch_size {
                        out.append(p);
                    }
                }
                if !*drop_partial {
                    for g in first_seen {
                        if let Some(p) = pending.get_mut(&g)
                            && !p.is_empty()
                        {
                            let k = p.len();
                            out.append(p);
                            out.extend(std::iter::repeat_n(SampleId::MISSING, batch_size - k));
                        }
                    }
                }
                out
            }
            Units::Pairs { .. } => {
                let nunits = self.pair_units.len() / width;
                let mut done = vec![false; nunits];
                let mut out = Vec::new();
                for id in seq {
                    let (u, _) = self.pair_of[id.dataset()][id.index()];
                    if u == u32::MAX || done[u as usize] {
                        continue;
                    }
                    done[u as usize] = true;
                    let u = u as usize;
                    out.extend_from_slice(&self.pair_units[u * width..(u + 1) * width]);
                }
                out
            }
        };
        EpochPlan { epoch, width, ids }
    }
}

/// The bucket key of a sample: dtype and shape of each of `fields` (`-` for an absent one).
fn shape_key(info: &SampleInfo<'_>, fields: &[String]) -> Result<String> {
    let mut key = String::new();
    for f in fields {
        let m = info
            .sample
            .members
            .iter()
            .find(|m| bomdata_shard::member::logical_name(&m.name).0 == f.as_str());
        match m {
            None => key.push('-'),
            Some(m) => {
                let (dtype, shape) = npy_shape(info, m)?;
                key.push_str(&format!("{}{shape:?}", dtype.name()));
            }
        }
        key.push(';');
    }
    Ok(key)
}

/// Bytes of a compressed member decoded to learn its `.npy` header (headers are 64-aligned and
/// far shorter).
const HEADER_PEEK: usize = 64 << 10;

/// The dtype and shape of the `.npy` member `m`, from its header only: a slice of the mapped
/// shard, or the first bytes of a compressed member (never the whole array).
fn npy_shape(
    info: &SampleInfo<'_>,
    m: &bomdata_schemas::manifest::IndexMember,
) -> Result<(bomdata_shard::npy::Dtype, Vec<usize>)> {
    use std::io::Read;
    let file = info.dataset.shard_file(info.loc.shard as usize)?;
    let bad = |e: &dyn std::fmt::Display| {
        Error::corrupt(
            file.path(),
            format!("sample {:?} member {}: {e}", info.sample.key, m.name),
        )
    };
    let raw = usize::try_from(m.offset)
        .ok()
        .zip(usize::try_from(m.offset + m.size).ok())
        .and_then(|(a, b)| file.bytes().get(a..b))
        .ok_or_else(|| bad(&"member outside the shard"))?;
    let mut head = Vec::new();
    let bytes = if bomdata_shard::member::logical_name(&m.name).1 {
        let dec = zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| bad(&e))?;
        dec.take(HEADER_PEEK as u64)
            .read_to_end(&mut head)
            .map_err(|e| bad(&e))?;
        &head[..]
    } else {
        raw
    };
    let (dtype, shape, _) = bomdata_shard::npy::decode_header(bytes).map_err(|e| bad(&e))?;
    Ok((dtype, shape))
}
