"""LZU detection (fixed, adaptive with the cascade) and segmentation under torchrun: two CPU ranks (gloo) take
training steps on generated scenes and must end with identical weights and finite, identical (averaged) losses."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lzu.perception.synthetic import generate_scenes

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list:
    "Generate tiny scenes, run tests/perception_ddp_worker.py on two CPU ranks, return each rank's result."
    tmp = tmp_path_factory.mktemp("perception_ddp")
    data = generate_scenes(tmp / "scenes", n_sequences={'train': 2, 'val': 1}, frames_per_sequence=2, image_hw=(96, 160),
                           seed=0, progress=False)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "tests" / "perception_ddp_worker.py"), str(data), str(tmp / "out")]
    r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"torchrun failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return [json.loads((tmp / "out" / f"rank{k}.json").read_text()) for k in range(2)]


@pytest.mark.parametrize("model", ["det_fixed", "det_adaptive", "seg_fixed"])
def test_ranks_agree_and_losses_are_finite(ranks, model):
    a, b = ranks[0][model], ranks[1][model]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert a["hash"] == b["hash"], f"{model}: the two ranks ended with different weights"
    assert len(a["loss"]) == 2 and a["loss"] == b["loss"] and all(math.isfinite(v) for v in a["loss"])
