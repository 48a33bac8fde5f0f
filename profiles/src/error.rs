//! The profiles error type.

/// Errors of profiles, the `shard` build and token shards.
///
/// Variants that wrap another error keep it as their `source` and leave it out of their own
/// message, so an error chain printed with `{:#}` names each cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The container failed (I/O, a damaged shard, index or manifest, a bad name, `.npy`).
    #[error(transparent)]
    Shard(#[from] bomdata_shard::Error),
    /// No profile of this name.
    #[error("unknown profile {name:?} (known: {})", known.join(", "))]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<&'static str>,
    },
    /// A parameter the profile does not have.
    #[error("profile {profile} has no parameter {param:?} (known: {})", known.join(", "))]
    UnknownParam {
        /// The profile.
        profile: String,
        /// The parameter given.
        param: String,
        /// The parameters it has.
        known: Vec<String>,
    },
    /// A parameter value of the wrong kind or out of range.
    #[error("profile {profile}: parameter {param} = {value} is not {expected}")]
    BadParam {
        /// The profile.
        profile: String,
        /// The parameter.
        param: String,
        /// The value given.
        value: serde_json::Value,
        /// What it should be.
        expected: &'static str,
    },
    /// An EEG processing step this crate does not have.
    #[error("unknown eeg step {step:?}")]
    UnknownStep {
        /// The step named.
        step: String,
    },
    /// A rank not below the world size of a distributed build.
    #[error("rank {rank} is not below world size {world}")]
    RankRange {
        /// The rank given.
        rank: usize,
        /// The world size given.
        world: usize,
    },
    /// A rank started with other options (or input) than the distributed run already recorded.
    #[error(
        "rank {rank}: {} records a distributed shard run with other options or input; start every rank with the same ones, or give a new --out",
        path.display()
    )]
    RunMismatch {
        /// The run record.
        path: std::path::PathBuf,
        /// The refused rank.
        rank: usize,
    },
    /// The output folder of a rank holds more than the state of a distributed run.
    #[error(
        "{} is not empty (it holds {}); ranks of a distributed shard need a new or empty --out (a merged run is not run again)",
        path.display(),
        entries.join(", ")
    )]
    OutputInUse {
        /// The output folder.
        path: std::path::PathBuf,
        /// What it holds.
        entries: Vec<String>,
    },
    /// The merge of a distributed build found ranks that have not committed.
    #[error(
        "ranks {missing:?} of {world} have not finished; run (or rerun) only those ranks, then merge again"
    )]
    RanksMissing {
        /// The ranks without a commit record.
        missing: Vec<usize>,
        /// The world size of the run.
        world: usize,
    },
    /// The input dataset changed since the ranks of a distributed build ran.
    #[error("{}: the input dataset changed since the ranks ran; run them again", path.display())]
    InputChanged {
        /// The input dataset.
        path: std::path::PathBuf,
    },
    /// Window or stride (EEG) not positive.
    #[error("profile {profile}: window_s and stride_s must be positive")]
    NonPositiveWindow {
        /// The profile.
        profile: String,
    },
    /// Window or stride (EEG) shorter than one sample at the output rate.
    #[error("window or stride rounds to 0 samples")]
    EmptyWindow,
    /// The EEG window is not a whole number of patches.
    #[error("window of {window} samples is not a multiple of patch_len {patch_len}")]
    PatchLen {
        /// Window length in samples.
        window: usize,
        /// Patch length in samples.
        patch_len: usize,
    },
    /// Percentile bounds (volume profile) out of order or range.
    #[error(
        "profile volume: percentiles p_low={low} p_high={high} must satisfy 0 <= p_low < p_high <= 100"
    )]
    Percentiles {
        /// `p_low`.
        low: f64,
        /// `p_high`.
        high: f64,
    },
    /// A canonical EEG signal whose data length does not match its shape.
    #[error("{key}: signal.npy data length {len} != {channels}x{times} float32")]
    SignalLength {
        /// The sample key.
        key: String,
        /// Data bytes present.
        len: usize,
        /// Channels in the shape.
        channels: usize,
        /// Time points in the shape.
        times: usize,
    },
    /// A member whose `.npy` array cannot be decoded.
    #[error("{key}: {member}")]
    Member {
        /// The sample key.
        key: String,
        /// The member name.
        member: String,
        /// The decoding error.
        source: bomdata_shard::Error,
    },
    /// A member that is not the JSON it should be.
    #[error("{key}: {member}")]
    Json {
        /// The sample key.
        key: String,
        /// The member name (`meta.json`).
        member: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A member of the wrong element type.
    #[error("member {member}: {dtype} is not {expected}")]
    Dtype {
        /// The member (`<key>.<field>.<ext>` or the field name).
        member: String,
        /// Its dtype.
        dtype: &'static str,
        /// The dtypes accepted.
        expected: &'static str,
    },
    /// A token sample would hold more ids than `doc_offsets` (uint32) can address.
    #[error("a token sample of {tokens} ids is past the uint32 offsets")]
    TokenOffsets {
        /// Ids in the sample.
        tokens: u64,
    },
    /// A `genome/2` block whose window lengths do not add up to its bases.
    #[error("{key}: the block's windows cover {windows} bases, its sequence member has {bases}")]
    BlockBases {
        /// The sample key.
        key: String,
        /// Bases the windows' lengths add up to.
        windows: u64,
        /// Bases of the sequence member.
        bases: u64,
    },
    /// Document boundaries of a token sample out of order.
    #[error("{key}.doc_offsets: boundaries are not increasing within 0..={tokens}")]
    DocOffsets {
        /// The sample key.
        key: String,
        /// The number of tokens.
        tokens: u32,
    },
    /// The tokenizer failed (building it, encoding a document, reading ids back).
    #[error("{context}")]
    Tokenizer {
        /// What was being done.
        context: String,
        /// The tokenizer error.
        source: bomdata_tokenizers::Error,
    },
    /// A tokenizer without a padding token and no padding id given.
    #[error("tokenizer {tokenizer} has no pad token: give a padding id")]
    NoPadToken {
        /// The tokenizer id.
        tokenizer: String,
    },
    /// Fewer tokens stored than tokenized (a packing bug, never input data).
    #[error("token count mismatch: {tokenized} tokenized, {stored} stored")]
    TokenCount {
        /// Tokens produced by the tokenizer.
        tokenized: u64,
        /// Tokens written.
        stored: u64,
    },
    /// The token packer returned a segment without a pending document (a packing bug).
    #[error("token packer returned a segment without a document")]
    PackerNoDocument,
    /// A value of the build (report entry, packing parameters) could not be encoded as JSON.
    #[error("encoding {what} as JSON")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A sample declares a split (`split` of its `meta.json`) that is not train, valid or test.
    #[error("{key}: declared split {split:?} is not train, valid or test")]
    DeclaredSplit {
        /// The sample key.
        key: String,
        /// The declared label.
        split: String,
    },
    /// A `meta.json` member too large to be a sample's metadata.
    #[error("{key}: meta.json of {size} bytes is larger than {limit}")]
    MetaTooLarge {
        /// The sample key.
        key: String,
        /// Its size in the index.
        size: u64,
        /// The largest size read.
        limit: u64,
    },
    /// A tokenizer that refuses lower-case bases, given soft-masked input (checked before any
    /// output is written).
    #[error(
        "tokenizer {tokenizer} refuses lower-case bases, and the input has {bases} in {documents} documents (first: {first}): upper-case them with --param case=upper (\"case\": \"upper\" in a tokenizer config)"
    )]
    LowercaseRefused {
        /// The tokenizer id.
        tokenizer: String,
        /// Lower-case bases in the input.
        bases: u64,
        /// Documents with lower-case bases.
        documents: u64,
        /// The first such document's key.
        first: String,
    },
    /// A table part (or a training table) could not be read or written as Parquet.
    #[error("table {name}: parquet")]
    TableRead {
        /// The table (path in the dataset, or modality).
        name: String,
        /// The Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow refused the arrays of a training table.
    #[error("table {name}: arrow")]
    TableArrow {
        /// The modality.
        name: String,
        /// The Arrow error.
        source: arrow_schema::ArrowError,
    },
    /// A table part whose columns are not laid out as ingest writes them.
    #[error("table {name}: {what}")]
    TableLayout {
        /// The table.
        name: String,
        /// What is wrong.
        what: &'static str,
    },
    /// The worker pool could not start.
    #[error("starting the worker pool")]
    Pool(#[source] rayon::ThreadPoolBuildError),
}

impl Error {
    /// An I/O error on `path` (a container [`bomdata_shard::Error::Io`]).
    pub fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        Error::Shard(bomdata_shard::Error::io(path, source))
    }
}

/// Result with the profiles [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
