"""The preflight (nbs/93_preflight.ipynb) on real profiles: the paper profile's workspace on a machine without its
data, weights or GPU stops with the whole list and runs nothing; the committed default passes silently."""
import subprocess
import sys
from pathlib import Path

import torch

from lzu.pipeline import prepare_profile

ROOT = Path(__file__).resolve().parent.parent


def _preflight(cwd):
    return subprocess.run([sys.executable, "-m", "lzu.preflight"], cwd=cwd, capture_output=True, text=True)


def test_paper_profile_lists_everything_missing_and_runs_nothing(tmp_path):
    ws = prepare_profile("paper", tmp_path / "paper", root=ROOT)
    before = sorted(p.relative_to(ws) for p in ws.rglob("*"))
    r = _preflight(ws)
    assert r.returncode == 1 and r.stdout == "", r
    lines = [l for l in r.stderr.splitlines() if l.startswith("  - ")]
    kinds = [l[4:].split(":")[0] for l in lines]
    assert kinds[:4] == ["Argoverse-HD", "Cityscapes", "nuScenes", "SR-Raw"], r.stderr
    if not torch.cuda.is_available(): assert kinds[-1] == "GPU", r.stderr
    assert sorted(p.relative_to(ws) for p in ws.rglob("*") if "__pycache__" not in p.parts) == \
        [p for p in before if "__pycache__" not in p.parts]   # nothing written (no stage ran, no output removed)


def test_profiles_on_generated_data_pass_silently(tmp_path):
    for ws in (ROOT, prepare_profile("seed1", tmp_path / "seed1", root=ROOT)):   # the committed default, another seed
        r = _preflight(ws)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
