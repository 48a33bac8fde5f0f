//! Trains a small MLP on EEG-like windows through the loader, on the CPU, and shows that a run
//! checkpointed at step `k` (loader state, model, optimizer momentum) and resumed in a fresh
//! process gives exactly the loss trajectory of an uninterrupted run.
//!
//! ```text
//! scripts/test-tch.sh builds it; by hand, with the same LIBTORCH environment:
//! cargo run -p bomdata-loader --features tch --example train_tch -- --steps 20 --checkpoint-at 7
//! ```
//!
//! It writes a tiny dataset (48 windows of 4 channels x 32 samples, `x.npy` f32 and `y.npy`
//! int64 class, 10 per shard) into `--dir` (default: a temporary folder), then runs itself three
//! times: `--phase full` (N steps), `--phase first` (k steps, then the checkpoint) and
//! `--phase resume` (a new process: loads the checkpoint, steps k..N). It prints both
//! trajectories and exits with an error unless they are equal bit for bit.
//!
//! The checkpoint is what a real job keeps: the loader's [`LoaderState`] (a few numbers, valid
//! for another world size too), the model's weights and the optimizer's state (momentum
//! buffers of a hand-written SGD, saved as tensors). Determinism needs the same seed, batch
//! order (the loader's plan) and one intra-op thread.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bomdata_loader::tensor::TensorBatch;
use bomdata_loader::{
    BufferSize, Dataset, Loader, LoaderOptions, LoaderState, Mixture, OrderOptions, Partition,
    Planner, Shuffle, Units,
};
use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest};
use bomdata_shard::writer::{Compression, ShardWriter, WriterOptions};
use bomdata_shard::{Sample, npy};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const CHANNELS: usize = 4;
const TIMES: usize = 32;
const SAMPLES: usize = 48;
const LR: f64 = 0.01;
const MOMENTUM: f64 = 0.9;

struct Args {
    steps: usize,
    checkpoint_at: usize,
    dir: Option<PathBuf>,
    phase: Option<String>,
}

fn args() -> Res<Args> {
    let mut a = Args {
        steps: 20,
        checkpoint_at: 7,
        dir: None,
        phase: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        match k.as_str() {
            "--steps" => a.steps = v.parse()?,
            "--checkpoint-at" => a.checkpoint_at = v.parse()?,
            "--dir" => a.dir = Some(PathBuf::from(v)),
            "--phase" => a.phase = Some(v),
            _ => return Err(format!("unknown argument {k}").into()),
        }
    }
    if a.checkpoint_at == 0 || a.checkpoint_at >= a.steps {
        return Err("need 0 < --checkpoint-at < --steps".into());
    }
    Ok(a)
}

/// Window `i`: class `i % 2` is a 2 Hz or 5 Hz sine, per channel phase-shifted, plus noise.
fn window(i: usize) -> (Vec<f32>, i64) {
    let class = (i % 2) as i64;
    let f = if class == 0 { 2.0 } else { 5.0 };
    let mut state = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut x = Vec::with_capacity(CHANNELS * TIMES);
    for c in 0..CHANNELS {
        for t in 0..TIMES {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let noise = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 6.0;
            let ph = t as f32 / TIMES as f32 * std::f32::consts::TAU * f + c as f32;
            x.push(ph.sin() + noise);
        }
    }
    (x, class)
}

/// Writes the dataset (once).
fn write_dataset(dir: &Path) -> Res<()> {
    if dir.join("manifest.json").exists() {
        return Ok(());
    }
    let opts = WriterOptions {
        max_bytes: 1 << 30,
        max_samples: 10,
        compression: Compression::None,
        split: Some("train".into()),
        durable: false,
        defer_commit: false,
    };
    let mut w = ShardWriter::create(dir, "eeg-train", opts)?;
    for i in 0..SAMPLES {
        let (x, y) = window(i);
        let mut s = Sample::new(format!("demo_s{}_1_eeg_{i:06}", i / 4));
        s.push("x.npy", npy::encode_f32(&[CHANNELS, TIMES], &x));
        s.push("y.npy", npy::encode_i64(&[], &[y]));
        w.write(&s)?;
    }
    let shards = w.finish()?;
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.to_string(),
        kind: DatasetKind::Training,
        tool: "train_tch example".into(),
        sources: vec!["demo".into()],
        profile: None,
        tokenizer: None,
        counts: Counts {
            samples: SAMPLES as u64,
            shards: shards.len() as u64,
            bytes: shards.iter().map(|e| e.size).sum(),
            ..Counts::default()
        },
        shards,
        tables: Vec::new(),
    };
    bomdata_shard::dataset::write_manifest(dir, &m)?;
    Ok(())
}

fn loader(dir: &Path) -> Res<Loader> {
    let order = OrderOptions {
        seed: 7,
        shuffle: Shuffle::Buffer(BufferSize::Samples(16)),
        shuffle_shards: true,
    };
    let ds = Dataset::open(dir.join("data"))?;
    let planner = Planner::new(Mixture::single(ds), order, Units::Samples)?;
    let opts = LoaderOptions {
        batch_size: 8,
        threads: 2,
        ..LoaderOptions::default()
    };
    Ok(Loader::new(Arc::new(planner), Partition::single(), opts)?)
}

/// The model and the optimizer's momentum buffers.
struct Trainer {
    vs: nn::VarStore,
    net: nn::Sequential,
    momentum: BTreeMap<String, Tensor>,
}

impl Trainer {
    fn new() -> Trainer {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let root = vs.root();
        let net = nn::seq()
            .add(nn::linear(
                &root / "l1",
                (CHANNELS * TIMES) as i64,
                32,
                Default::default(),
            ))
            .add_fn(|x| x.relu())
            .add(nn::linear(&root / "l2", 32, 2, Default::default()));
        let momentum = vs
            .variables()
            .into_iter()
            .map(|(k, v)| (k, v.zeros_like()))
            .collect();
        Trainer { vs, net, momentum }
    }

    /// One SGD-with-momentum step on a batch; returns the loss.
    fn step(&mut self, batch: &TensorBatch) -> Res<f64> {
        let x = batch.get(0, "x.npy").ok_or("no x.npy")?;
        let y = batch.get(0, "y.npy").ok_or("no y.npy")?;
        let rows = x.size()[0];
        let logits = self.net.forward(&x.reshape([rows, -1]));
        let loss = logits.cross_entropy_for_logits(&y.to_kind(Kind::Int64));
        for v in self.vs.trainable_variables() {
            let mut g = v.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        loss.backward();
        let vars = self.vs.variables();
        tch::no_grad(|| {
            for (name, p) in &vars {
                let (Some(m), g) = (self.momentum.get_mut(name), p.grad()) else {
                    continue;
                };
                let next = &*m * MOMENTUM + &g;
                m.copy_(&next);
                let mut p = p.shallow_clone();
                let _ = p.g_sub_(&(&next * LR));
            }
        });
        Ok(loss.double_value(&[]))
    }

    fn save(&self, dir: &Path) -> Res<()> {
        self.vs.save(dir.join("model.ot"))?;
        let named: Vec<(&str, &Tensor)> =
            self.momentum.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Tensor::save_multi(&named, dir.join("momentum.ot"))?;
        Ok(())
    }

    fn load(&mut self, dir: &Path) -> Res<()> {
        self.vs.load(dir.join("model.ot"))?;
        for (k, v) in Tensor::load_multi(dir.join("momentum.ot"))? {
            if let Some(m) = self.momentum.get_mut(&k) {
                tch::no_grad(|| m.copy_(&v));
            }
        }
        Ok(())
    }
}

/// Trains from `step` to `until`, appending each loss to `losses`; returns the loader state
/// after the last step.
fn train(
    t: &mut Trainer,
    l: &mut Loader,
    mut step: usize,
    until: usize,
    losses: &mut Vec<f64>,
) -> Res<LoaderState> {
    while step < until {
        let mut it = l.epoch();
        if it.is_empty() {
            return Err("empty epoch".into());
        }
        for b in it.by_ref() {
            let tb = TensorBatch::new(b?)?;
            losses.push(t.step(&tb)?);
            step += 1;
            if step == until {
                return Ok(it.state());
            }
        }
    }
    Ok(l.state())
}

fn phase(a: &Args, dir: &Path, phase: &str) -> Res<()> {
    tch::set_num_threads(1);
    let mut t = Trainer::new();
    let mut l = loader(dir)?;
    let mut losses = Vec::new();
    let ckpt = dir.join("checkpoint");
    match phase {
        "full" => {
            train(&mut t, &mut l, 0, a.steps, &mut losses)?;
        }
        "first" => {
            let state = train(&mut t, &mut l, 0, a.checkpoint_at, &mut losses)?;
            std::fs::create_dir_all(&ckpt)?;
            t.save(&ckpt)?;
            std::fs::write(ckpt.join("loader.json"), state.to_json())?;
        }
        "resume" => {
            t.load(&ckpt)?;
            let state =
                LoaderState::from_json(&std::fs::read_to_string(ckpt.join("loader.json"))?)?;
            l.set_state(state)?;
            train(&mut t, &mut l, a.checkpoint_at, a.steps, &mut losses)?;
        }
        p => return Err(format!("unknown phase {p}").into()),
    }
    let text: String = losses.iter().map(|x| format!("{x:?}\n")).collect();
    std::fs::write(dir.join(format!("losses-{phase}.txt")), text)?;
    Ok(())
}

fn read_losses(dir: &Path, phase: &str) -> Res<Vec<f64>> {
    let text = std::fs::read_to_string(dir.join(format!("losses-{phase}.txt")))?;
    Ok(text.lines().map(str::parse).collect::<Result<_, _>>()?)
}

fn main() -> Res<()> {
    let a = args()?;
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    if let Some(p) = &a.phase {
        return phase(&a, &dir, p);
    }
    write_dataset(&dir.join("data"))?;
    let exe = std::env::current_exe()?;
    for p in ["full", "first", "resume"] {
        let st = Command::new(&exe)
            .args(["--steps", &a.steps.to_string()])
            .args(["--checkpoint-at", &a.checkpoint_at.to_string()])
            .arg("--dir")
            .arg(&dir)
            .args(["--phase", p])
            .status()?;
        if !st.success() {
            return Err(format!("phase {p} failed: {st}").into());
        }
    }
    let full = read_losses(&dir, "full")?;
    let resumed = [read_losses(&dir, "first")?, read_losses(&dir, "resume")?].concat();
    println!(
        "step  uninterrupted         checkpointed at {} + resumed",
        a.checkpoint_at
    );
    for (i, (x, y)) in full.iter().zip(&resumed).enumerate() {
        let mark = if i == a.checkpoint_at {
            "  <- resumed here"
        } else {
            ""
        };
        println!("{i:4}  {x:<20.17}  {y:<20.17}{mark}");
    }
    if full.len() != a.steps
        || full
            .iter()
            .map(|x| x.to_bits())
            .ne(resumed.iter().map(|x| x.to_bits()))
    {
        return Err("the resumed loss trajectory differs from the uninterrupted one".into());
    }
    println!("identical loss trajectories over {} steps", a.steps);
    Ok(())
}
