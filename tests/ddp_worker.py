"""One rank of the DDP test (tests/test_train_ddp.py), run by `torchrun`: train a tiny model and dump its parameters.

Usage: python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py OUT STEPS BATCH STOP
Two runs in one launch (starting torch processes is the slow part):
- OUT/straight: STEPS steps in one go; `train` itself creates the process group (and leaves it up);
- OUT/resumed: STOP steps, then a fresh model resumed from the checkpoint up to STEPS, in the same group.
Each run writes OUT/RUN/rank{r}.pt (state_dict and history) and OUT/RUN/rank{r}.sha256 (a hash of the
parameters' bytes); checkpoints go to OUT/RUN/ckpt.
"""
import hashlib
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import TensorDataset

from lzu.train import TrainConfig, dist_env, train


def tiny_model() -> torch.nn.Module:
    "A seeded two-layer MLP (no dropout, so DDP and one process compute the same thing)."
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def tiny_data(n: int = 16) -> TensorDataset:
    "A fixed synthetic regression set."
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True).sin())


def config(out: Path, steps: int, batch: int) -> TrainConfig:
    "The run's configuration (batch is per process)."
    return TrainConfig(steps=steps, batch_size=batch, lr=1e-2, lr_decay=0.95, seed=3, checkpoint_dir=str(out/"ckpt"),
                       checkpoint_every=2, keep_checkpoints=10, progress=False, device="cpu")


def param_hash(model: torch.nn.Module, buffers: bool = True) -> str:
    "sha256 of the state_dict's raw bytes, in order (`buffers=False`: the parameters only, e.g. without rank-local batch-norm statistics)."
    h = hashlib.sha256()
    items = model.state_dict().items() if buffers else model.named_parameters()
    for k, v in items: h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run(out: Path, steps: int, batch: int):
    "Train a fresh tiny model for `steps` (resuming from out/ckpt when there is a checkpoint) and dump the result."
    rank, world, _ = dist_env()
    model = tiny_model()
    hist = train(model, torch.nn.functional.mse_loss, tiny_data(), config(out, steps, batch))
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "history": hist, "world_size": world}, out/f"rank{rank}.pt")
    (out/f"rank{rank}.sha256").write_text(param_hash(model))


if __name__ == "__main__":
    out, steps, batch, stop = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    assert not dist.is_initialized()
    run(out/"straight", steps, batch)
    assert dist.is_initialized() and dist.get_backend() == "gloo", "train should have started a gloo process group"
    run(out/"resumed", stop, batch)
    run(out/"resumed", steps, batch)
    dist.destroy_process_group()
