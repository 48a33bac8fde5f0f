//! The `tch` feature: batches as tensors equal to what was written, zero-copy CPU views.
#![cfg(feature = "tch")]
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use bomdata_loader::tensor::{TensorBatch, cuda_device, kind_of};
use bomdata_loader::{
    Dataset, Loader, LoaderOptions, Mixture, OrderOptions, Partition, Planner, Shuffle, Units,
};
use bomdata_shard::writer::Compression;
use common::{index_of, values, write_dataset};
use tch::{Device, Kind};

#[test]
fn tensors_equal_written_values() {
    for compression in [Compression::None, Compression::Member(3)] {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), 20, "eeg", compression);
        let ds = Dataset::open(dir.path()).unwrap();
        let order = OrderOptions {
            seed: 1,
            shuffle: Shuffle::Global,
            shuffle_shards: true,
        };
        let p = Planner::new(Mixture::single(ds), order, Units::Samples).unwrap();
        let opts = LoaderOptions {
            batch_size: 8,
            ..LoaderOptions::default()
        };
        let mut l = Loader::new(Arc::new(p), Partition::single(), opts).unwrap();
        let mut n = 0;
        for b in l.epoch() {
            let tb = TensorBatch::new(b.unwrap()).unwrap();
            let rows = tb.batch().rows();
            let field = tb.batch().field("x.npy").unwrap();
            let t = tb.get(0, "x.npy").unwrap();
            assert_eq!(t.size(), vec![rows as i64, 3, 4]);
            assert_eq!(t.kind(), Kind::Float);
            // a view of the batch buffer, not a copy
            assert_eq!(t.data_ptr() as usize, field.data().as_ptr() as usize);
            let meta = tb.batch().field("meta.json").unwrap();
            let owned = tb.to_device(Device::Cpu);
            for r in 0..rows {
                let i = index_of(meta.row(r));
                let got: Vec<f32> = Vec::try_from(t.get(r as i64).flatten(0, -1)).unwrap();
                assert_eq!(got, values(i));
                let got: Vec<f32> =
                    Vec::try_from(owned[0].tensor.get(r as i64).flatten(0, -1)).unwrap();
                assert_eq!(got, values(i));
            }
            assert_eq!(tb.mask().size(), vec![rows as i64, 1]);
            if let Some(dev) = cuda_device() {
                let g = tb.to_device(dev);
                let back = g[0].tensor.to_device(Device::Cpu);
                assert!(back.equal(t));
            }
            n += rows;
        }
        assert_eq!(n, 20);
    }
    assert_eq!(kind_of(bomdata_shard::npy::Dtype::F16), Some(Kind::Half));
}

/// Batch buffers registered with CUDA: copies to the device read them directly. Without a GPU
/// (this CI) the registrar is absent and the loader keeps pageable buffers.
#[test]
fn cuda_registered_buffers() {
    let Some(reg) = bomdata_loader::tensor::CudaHostRegister::new() else {
        assert!(
            cuda_device().is_none(),
            "CUDA present but its runtime was not found"
        );
        return;
    };
    let dev = cuda_device().unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 20, "eeg", Compression::None);
    let ds = Dataset::open(dir.path()).unwrap();
    let p = Planner::new(Mixture::single(ds), OrderOptions::default(), Units::Samples).unwrap();
    let opts = LoaderOptions {
        batch_size: 8,
        page_lock: Some(reg),
        ..LoaderOptions::default()
    };
    let mut l = Loader::new(Arc::new(p), Partition::single(), opts).unwrap();
    let mut n = 0;
    for b in l.epoch() {
        let tb = TensorBatch::new(b.unwrap()).unwrap();
        assert!(tb.is_pinned(0));
        let meta = tb.batch().field("meta.json").unwrap();
        let g = tb.to_device(dev);
        let back = g[0].tensor.to_device(Device::Cpu);
        for r in 0..tb.batch().rows() {
            let got: Vec<f32> = Vec::try_from(back.get(r as i64).flatten(0, -1)).unwrap();
            assert_eq!(got, values(index_of(meta.row(r))));
            n += 1;
        }
    }
    assert_eq!(n, 20);
}

/// `examples/train_tch.rs` on its tiny dataset: checkpointed at step 7 and resumed in a new
/// process, the loss trajectory equals the uninterrupted one (the example exits non-zero
/// otherwise). `cargo test` builds the examples beside the test binaries.
#[test]
fn train_tch_example_resumes_exactly() {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples")
        .join(format!("train_tch{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo test -p bomdata-loader --features tch` (builds the examples)",
        bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&bin)
        .args(["--steps", "16", "--checkpoint-at", "7", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("identical loss trajectories over 16 steps"),
        "{stdout}"
    );
}
