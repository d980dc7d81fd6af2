"""The nuScenes stand-in's generator (nbs/47a_perception.nuscenes_synthetic.ipynb) beyond what fits in the notebook:
scenes rendered by several processes write the same bytes as one process. The generator forks its workers, which is
safe from a fresh interpreter (the pipeline's stage process calls it first thing) but not from a long-lived process
whose OpenMP threads have run (a forked child may deadlock), so each generation here runs in a fresh interpreter."""
import json
import os
import subprocess
import sys
from pathlib import Path

from lzu.perception.nuscenes_synthetic import MANIFEST_NAME

ROOT = Path(__file__).resolve().parent.parent


def generate(root: Path, seed: int, workers: int) -> dict:
    "Generate a small tree in a fresh interpreter (under the pipeline's pinned numerics, as the stage runs); its manifest."
    from lzu.pipeline import PINNED_NUMERICS
    code = ("import sys; from lzu.perception.nuscenes_synthetic import generate_nuscenes; "
            "generate_nuscenes(sys.argv[1], {'train': 3, 'val': 2}, 2, (90, 160), seed=int(sys.argv[2]), progress=False, workers=int(sys.argv[3]))")
    subprocess.run([sys.executable, '-c', code, str(root), str(seed), str(workers)], check=True, cwd=ROOT, timeout=600,
                   env={**os.environ, **PINNED_NUMERICS})
    return json.loads((root / MANIFEST_NAME).read_text())


def test_workers_do_not_change_the_files(tmp_path):
    "Two processes write exactly the files of one (tables merged in the scenes' order); another seed writes others."
    one, two = generate(tmp_path / 'one', 4, 1), generate(tmp_path / 'two', 4, 2)
    assert one['files'] == two['files'] and one['sha256'] == two['sha256'] and one['boxes'] == two['boxes']
    assert sum(f.endswith('.jpg') for f in one['files']) == 5 * 2   # every scene's keyframes
    assert generate(tmp_path / 'other', 5, 2)['sha256'] != one['sha256']
