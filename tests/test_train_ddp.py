"""`lzu.train.train` under torchrun: two CPU ranks (gloo) against each other, against a resumed DDP run, and against
one process with twice the batch. One torchrun launch (see tests/ddp_worker.py) does all the DDP runs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/"tests"))
from ddp_worker import config, tiny_data, tiny_model  # noqa: E402

from lzu.train import train  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")
STEPS, BATCH, STOP = 5, 2, 3   # 16 samples / 2 ranks / batch 2: 4 steps an epoch, so 5 steps cross an epoch


@pytest.fixture(scope="module")
def ddp_out(tmp_path_factory) -> Path:
    "Run tests/ddp_worker.py on two CPU ranks with torchrun; fail with its output when it fails."
    out = tmp_path_factory.mktemp("ddp")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT/"tests"/"ddp_worker.py"), str(out), str(STEPS), str(BATCH), str(STOP)]
    r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, f"torchrun failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return out


def load(d: Path, rank: int) -> dict:
    return torch.load(d/f"rank{rank}.pt", weights_only=True)


def test_ranks_agree(ddp_out):
    "Both ranks finished with identical parameters and the same (rank-averaged) loss history."
    d = ddp_out/"straight"
    assert (d/"rank0.sha256").read_text() == (d/"rank1.sha256").read_text(), "the two ranks ended with different parameters"
    r0, r1 = load(d, 0), load(d, 1)
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["history"]["loss"] == r1["history"]["loss"] and len(r0["history"]["loss"]) == STEPS


def test_rank0_checkpoints(ddp_out):
    "Only rank 0 wrote checkpoints (one file a step, no temporaries), with both ranks' RNG states and unwrapped keys."
    d = ddp_out/"straight"
    assert sorted(p.name for p in (d/"ckpt").iterdir()) == ["step-00000002.pt", "step-00000004.pt", "step-00000005.pt"]
    ck = torch.load(d/"ckpt"/"step-00000005.pt", weights_only=True)
    assert ck["step"] == STEPS and ck["world_size"] == 2 and len(ck["rng"]) == 2
    assert all(torch.equal(ck["model"][k], v) for k, v in load(d, 0)["state_dict"].items())   # no `module.` prefix


def test_resumed_ddp_is_exact(ddp_out):
    "Stopped at step 3 and resumed to step 5 under DDP: bitwise the uninterrupted run's parameters and losses."
    a, b = ddp_out/"straight", ddp_out/"resumed"
    assert (a/"rank0.sha256").read_text() == (b/"rank0.sha256").read_text() == (b/"rank1.sha256").read_text()
    assert load(a, 0)["history"] == load(b, 0)["history"]


def test_matches_single_process(ddp_out, tmp_path):
    "DDP with 2 ranks x batch B ends (to float tolerance) where one process with batch 2B does."
    m = tiny_model()
    h = train(m, torch.nn.functional.mse_loss, tiny_data(), config(tmp_path, STEPS, 2 * BATCH))
    r0 = load(ddp_out/"straight", 0)
    for k, v in m.state_dict().items(): torch.testing.assert_close(r0["state_dict"][k], v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(r0["history"]["loss"]), torch.tensor(h["loss"]), rtol=1e-5, atol=1e-7)
