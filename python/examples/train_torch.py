#!/usr/bin/env python3
"""Trains a small PyTorch model on bomdata shards, checkpoints the loader state with the
model, and resumes exactly.

A two-layer autoencoder learns to reconstruct the samples of one `.npy` field (EEG windows,
fMRI patches, ...) on the CPU for `--steps` steps. At step `--checkpoint-at` it saves the
model, the optimiser and `DataLoader.state_dict()` (the loader state: epoch and position, a
few numbers) to `--checkpoint`. Run it again with `--resume`: it loads the checkpoint, the
loader continues with the batch after the checkpoint, and the loss trajectory equals the
uninterrupted run's to the last bit (the suite checks this: python/tests/test_torch.py).

    python train_torch.py DATASET --steps 12 --checkpoint-at 5 --checkpoint ck.pt --out a.json
    python train_torch.py DATASET --steps 12 --checkpoint ck.pt --resume --out b.json
    # a.json and b.json hold the same 12 losses

Multi-GPU / multi-node: start it with torchrun; each rank reads its share (RANK and
WORLD_SIZE are read by the loader) and the saved state resumes with any world size.
"""
import argparse
import json

import torch

import bomdata.torch as bt


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", nargs="+", help="bomdata dataset directories")
    p.add_argument("--field", help="the .npy field to learn (default: the first one)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--checkpoint-at", type=int, default=-1)
    p.add_argument("--checkpoint", default="checkpoint.pt")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", help="write the losses (JSON list) here")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def model_for(dim):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.Tanh(), torch.nn.Linear(16, dim))


def main():
    args = parse()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    ds = bt.IterableDataset(args.dataset, batch_size=args.batch_size, seed=args.seed,
                            shuffle_buffer=64, threads=2)
    dl = bt.DataLoader(ds, num_workers=args.workers, pin_memory=False)
    step, losses, model, opt, ck = 0, [], None, None, None
    if args.resume:
        ck = torch.load(args.checkpoint, weights_only=False)
        step, losses = ck["step"], ck["losses"]
        dl.load_state_dict(ck["loader"])
    while step < args.steps:
        for batch in dl:
            field = args.field or next(k for k, v in batch.items()
                                       if torch.is_tensor(v) and not k.startswith("__"))
            x = batch[field].float().flatten(1)
            x = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-6)
            if model is None:
                model = model_for(x.shape[1])
                opt = torch.optim.Adam(model.parameters(), lr=1e-3)
                if ck is not None:
                    model.load_state_dict(ck["model"])
                    opt.load_state_dict(ck["optim"])
            loss = torch.nn.functional.mse_loss(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if step == args.checkpoint_at and not args.resume:
                torch.save({"step": step, "losses": list(losses), "model": model.state_dict(),
                            "optim": opt.state_dict(), "loader": dl.state_dict()},
                           args.checkpoint)
            if step >= args.steps:
                break
    print(json.dumps({"steps": step, "losses": losses}))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(losses, f)


if __name__ == "__main__":
    main()
