//! The loader specification the Python side passes as one JSON object, and how it becomes a
//! `bomdata_loader::Loader`: datasets and filters, mixture, order, units, partition here; every
//! other key goes to `LoaderOptions` through serde, so options the Rust loader gains need no
//! binding code.

use std::path::PathBuf;
use std::sync::Arc;

use bomdata_loader::{
    BufferSize, Dataset, DistEnv, Loader, LoaderOptions, Mixture, OrderOptions, OsLock, PairRow,
    Partition, Planner, Remainder, SampleInfo, ShapePolicy, Shuffle, Split, Units,
};
use serde_json::{Map, Value};

/// Errors of the binding's own checks (the loader's errors pass through as they are).
#[derive(Debug)]
pub enum SpecError {
    /// The JSON is not a specification (wrong type, unknown key of the binding's part).
    Json(serde_json::Error),
    /// A key that neither the binding nor `LoaderOptions` knows.
    UnknownOption {
        /// The key.
        key: String,
        /// The options `LoaderOptions` has.
        known: Vec<String>,
    },
    /// A modality name that `bomdata_schemas::Modality` does not know.
    UnknownModality(String),
    /// A shuffle mode other than `buffer`, `global` or `none`.
    UnknownShuffle(String),
    /// `weights` does not give one weight per path.
    Weights {
        /// Paths.
        paths: usize,
        /// Weights.
        weights: usize,
    },
    /// `worker` is not `[id, count]` with `id < count`.
    Worker([usize; 2]),
    /// `shapes` asks for bucket batches together with `pairs` or `groups` (bucket batches
    /// are units of their own).
    BucketWith(&'static str),
    /// The loader refused.
    Loader(bomdata_loader::Error),
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecError::Json(e) => write!(f, "loader options: {e}"),
            SpecError::UnknownOption { key, known } => write!(
                f,
                "unknown loader option {key:?} (the loader's options: {})",
                known.join(", ")
            ),
            SpecError::UnknownModality(m) => write!(f, "unknown modality {m:?}"),
            SpecError::UnknownShuffle(s) => {
                write!(f, "shuffle={s:?}: use \"buffer\", \"global\" or \"none\"")
            }
            SpecError::Weights { paths, weights } => {
                write!(f, "{weights} weights for {paths} datasets")
            }
            SpecError::Worker([w, k]) => write!(f, "worker {w} of {k}"),
            SpecError::BucketWith(what) => write!(
                f,
                "shapes=\"bucket\" makes bucket batches: it cannot be combined with {what}"
            ),
            SpecError::Loader(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SpecError {}

impl From<bomdata_loader::Error> for SpecError {
    fn from(e: bomdata_loader::Error) -> Self {
        SpecError::Loader(e)
    }
}

/// Same-subject pairing: slot order and the subjects table rows.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    /// One slot per modality name, in this order.
    pub modalities: Vec<String>,
    /// Sample key → subject, session, modality.
    pub rows: Vec<PairRow>,
}

/// Group-aware batches: `batch_size` samples whose `meta.json` value at `key` agree.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Top-level `meta.json` key.
    pub key: String,
    /// Samples per group batch.
    pub batch_size: usize,
    /// Drop a group's last short batch (else padded with missing slots).
    #[serde(default)]
    pub drop_partial: bool,
}

fn default_shuffle() -> String {
    "buffer".into()
}

/// Everything the Python `Loader(...)` accepts. Keys not listed here are `LoaderOptions`.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Spec {
    /// Dataset directories.
    pub paths: Vec<PathBuf>,
    /// Mixture weights, one per path (default: equal).
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
    /// Samples per mixture epoch (default: the sum of the selections).
    #[serde(default)]
    pub epoch_len: Option<u64>,
    /// Keep one split (`train`, `val`, `test`).
    #[serde(default)]
    pub split: Option<String>,
    /// Keep these sources.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    /// Keep these modalities.
    #[serde(default)]
    pub modalities: Option<Vec<String>>,
    /// Keep samples whose `meta.json` has these values (a list: any of them).
    #[serde(default)]
    pub meta: Option<Map<String, Value>>,
    /// Order seed.
    #[serde(default)]
    pub seed: u64,
    /// `buffer` (default), `global` or `none`.
    #[serde(default = "default_shuffle")]
    pub shuffle: String,
    /// Shuffle buffer in samples (default 4096).
    #[serde(default)]
    pub shuffle_buffer: Option<usize>,
    /// Shuffle buffer in bytes (instead of samples).
    #[serde(default)]
    pub shuffle_buffer_bytes: Option<u64>,
    /// Permute shards per epoch (default: true unless `shuffle` is `none`).
    #[serde(default)]
    pub shuffle_shards: Option<bool>,
    /// Same-subject pairing.
    #[serde(default)]
    pub pairs: Option<PairSpec>,
    /// Group-aware batches.
    #[serde(default)]
    pub groups: Option<GroupSpec>,
    /// Rank (default: torchrun / Slurm variables, else 0).
    #[serde(default)]
    pub rank: Option<usize>,
    /// World size (default: torchrun / Slurm variables, else 1).
    #[serde(default)]
    pub world_size: Option<usize>,
    /// Remainder policy.
    #[serde(default)]
    pub remainder: Remainder,
    /// How ranks split the order.
    #[serde(default)]
    pub partition: Split,
    /// `[worker id, workers]`: this process is one of a rank's data-loading workers; folded
    /// into the partition as rank `rank * workers + id` of `world * workers`.
    #[serde(default)]
    pub worker: Option<[usize; 2]>,
    /// Lock batch buffer pages in memory (`mlock`).
    #[serde(default)]
    pub lock_pages: bool,
    /// The rest: `LoaderOptions`.
    #[serde(flatten)]
    pub options: Map<String, Value>,
}

/// A built loader and what the binding needs to know about it.
pub struct Built {
    /// The loader.
    pub loader: Loader,
    /// Rank and world before worker folding.
    pub rank: usize,
    /// World size before worker folding.
    pub world: usize,
    /// Slot names (modalities when pairing).
    pub slots: Vec<String>,
}

impl Spec {
    /// Parses the JSON the Python side sends.
    pub fn parse(json: &str) -> Result<Spec, SpecError> {
        serde_json::from_str(json).map_err(SpecError::Json)
    }

    /// The `LoaderOptions`: every key not the binding's own, checked against the option names.
    /// With bucket batches (a `bucket` field in `shapes`) `batch_size` is the bucket size the
    /// planner makes and the loader's own batch size is 1 (one bucket batch per batch).
    pub fn loader_options(&self) -> Result<LoaderOptions, SpecError> {
        let mut opts = self.raw_options()?;
        if self.bucket_fields(&opts).is_some() {
            opts.batch_size = 1;
        }
        Ok(opts)
    }

    /// The fields `shapes` buckets by, if any.
    fn bucket_fields(&self, opts: &LoaderOptions) -> Option<Vec<String>> {
        let f: Vec<String> = opts
            .shapes
            .iter()
            .filter(|(_, p)| **p == ShapePolicy::Bucket)
            .map(|(k, _)| k.clone())
            .collect();
        (!f.is_empty()).then_some(f)
    }

    /// The options as given (before the bucket batch size).
    fn raw_options(&self) -> Result<LoaderOptions, SpecError> {
        let mut opts: LoaderOptions =
            serde_json::from_value(Value::Object(self.options.clone())).map_err(SpecError::Json)?;
        let known = match serde_json::to_value(&opts) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Some(key) = self.options.keys().find(|k| !known.contains_key(*k)) {
            return Err(SpecError::UnknownOption {
                key: key.clone(),
                known: known.keys().cloned().collect(),
            });
        }
        if self.lock_pages {
            opts.page_lock = Some(Arc::new(OsLock));
        }
        Ok(opts)
    }

    fn dataset(&self, path: &PathBuf) -> Result<Dataset, SpecError> {
        let mut ds = Dataset::open(path)?;
        if let Some(s) = &self.split {
            ds.retain_split(s);
        }
        if let Some(src) = &self.sources {
            ds.retain_as(format!("sources={}", src.join(",")), |i| {
                src.iter().any(|s| s == i.source())
            });
        }
        if let Some(mods) = &self.modalities {
            let parsed = mods
                .iter()
                .map(|m| m.parse().map_err(|_| SpecError::UnknownModality(m.clone())))
                .collect::<Result<Vec<_>, _>>()?;
            ds.retain_modalities(&parsed);
        }
        if let Some(want) = &self.meta {
            let what = format!("meta={}", Value::Object(want.clone()));
            ds.try_retain_as(what, |i| Ok(meta_matches(&i.meta()?, want)))?;
        }
        Ok(ds)
    }

    /// The mixture of the selected datasets.
    pub(crate) fn mixture(&self) -> Result<Mixture, SpecError> {
        let weights = self
            .weights
            .clone()
            .unwrap_or_else(|| vec![1.0; self.paths.len()]);
        if weights.len() != self.paths.len() {
            return Err(SpecError::Weights {
                paths: self.paths.len(),
                weights: weights.len(),
            });
        }
        let mut parts = Vec::with_capacity(self.paths.len());
        for (p, w) in self.paths.iter().zip(weights) {
            parts.push((self.dataset(p)?, w));
        }
        let mut mix = Mixture::weighted(parts)?;
        if let Some(n) = self.epoch_len {
            mix = mix.with_epoch_len(n);
        }
        Ok(mix)
    }

    fn order(&self) -> Result<OrderOptions, SpecError> {
        let buffer = match self.shuffle_buffer_bytes {
            Some(b) => BufferSize::Bytes(b),
            None => BufferSize::Samples(self.shuffle_buffer.unwrap_or(4096)),
        };
        let shuffle = match self.shuffle.as_str() {
            "buffer" => Shuffle::Buffer(buffer),
            "global" => Shuffle::Global,
            "none" => Shuffle::None,
            other => return Err(SpecError::UnknownShuffle(other.to_string())),
        };
        Ok(OrderOptions {
            seed: self.seed,
            shuffle,
            shuffle_shards: self
                .shuffle_shards
                .unwrap_or(!matches!(shuffle, Shuffle::None)),
        })
    }

    /// The planner of this specification (bucket batches: `Planner::with_buckets` with the
    /// given `batch_size` as bucket size and `drop_last` as `drop_partial`).
    pub fn planner(&self) -> Result<(Planner, Vec<String>), SpecError> {
        let mix = self.mixture()?;
        let order = self.order()?;
        let raw = self.raw_options()?;
        if let Some(fields) = self.bucket_fields(&raw) {
            if self.groups.is_some() {
                return Err(SpecError::BucketWith("groups"));
            }
            if self.pairs.is_some() {
                return Err(SpecError::BucketWith("pairs"));
            }
            let p = Planner::with_buckets(mix, order, &fields, raw.batch_size, raw.drop_last)?;
            return Ok((p, vec![String::new()]));
        }
        if let Some(g) = &self.groups {
            let key = g.key.clone();
            let mut f = |s: &SampleInfo<'_>| -> bomdata_loader::Result<String> {
                Ok(s.meta()?
                    .get(&key)
                    .map(Value::to_string)
                    .unwrap_or_default())
            };
            let p = Planner::with_groups(mix, order, g.batch_size, g.drop_partial, &mut f)?;
            let slots = (0..g.batch_size).map(|i| i.to_string()).collect();
            return Ok((p, slots));
        }
        let (units, slots) = match &self.pairs {
            Some(p) => (
                Units::Pairs {
                    modalities: p.modalities.clone(),
                    rows: p.rows.clone(),
                },
                p.modalities.clone(),
            ),
            None => (Units::Samples, vec![String::new()]),
        };
        Ok((Planner::new(mix, order, units)?, slots))
    }

    /// Rank and world: given, else from torchrun / Slurm variables, else 0 of 1.
    pub fn rank_world(&self) -> Result<(usize, usize), SpecError> {
        let env = DistEnv::from_env()?;
        let rank = self.rank.or(env.map(|e| e.rank)).unwrap_or(0);
        let world = self.world_size.or(env.map(|e| e.world)).unwrap_or(1);
        Ok((rank, world))
    }

    /// The partition of rank `rank` of `world`, with this process's worker folded in.
    pub fn partition(&self, rank: usize, world: usize) -> Result<Partition, SpecError> {
        let (r, w) = match self.worker {
            Some([id, k]) if id < k => (rank * k + id, world * k),
            Some(w) => return Err(SpecError::Worker(w)),
            None => (rank, world),
        };
        Ok(Partition::new(r, w, self.remainder)?.with_split(self.partition))
    }

    /// Builds the loader.
    pub fn build(&self) -> Result<Built, SpecError> {
        let opts = self.loader_options()?;
        let (planner, slots) = self.planner()?;
        let (rank, world) = self.rank_world()?;
        let part = self.partition(rank, world)?;
        let loader = Loader::new(Arc::new(planner), part, opts)?;
        Ok(Built {
            loader,
            rank,
            world,
            slots,
        })
    }
}

/// Whether `meta` has every wanted value (a wanted list: any of its values).
fn meta_matches(meta: &Value, want: &Map<String, Value>) -> bool {
    want.iter().all(|(k, v)| {
        let got = meta.get(k);
        match v {
            Value::Array(any) => any.iter().any(|x| got == Some(x)),
            one => got == Some(one),
        }
    })
}
