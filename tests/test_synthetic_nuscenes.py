"""The nuScenes stand-in's generator (nbs/47a_perception.nuscenes_synthetic.ipynb) beyond what fits in the notebook:
scenes rendered by several processes write the same bytes as one process. This runs in a plain pytest process:
the generator forks its workers, and forking the notebook runner's threaded process is not safe."""
import json

from lzu.perception.nuscenes_synthetic import MANIFEST_NAME, generate_nuscenes


def manifest(root):
    return json.loads((root / MANIFEST_NAME).read_text())


def test_workers_do_not_change_the_files(tmp_path):
    "Two processes write exactly the files of one (tables merged in the scenes' order); another seed writes others."
    args = ({'train': 3, 'val': 2}, 2, (90, 160))
    one = manifest(generate_nuscenes(tmp_path / 'one', *args, seed=4, progress=False, workers=1))
    two = manifest(generate_nuscenes(tmp_path / 'two', *args, seed=4, progress=False, workers=2))
    assert one['files'] == two['files'] and one['sha256'] == two['sha256'] and one['boxes'] == two['boxes']
    assert sum(f.endswith('.jpg') for f in one['files']) == 5 * 2   # every scene's keyframes
    other = manifest(generate_nuscenes(tmp_path / 'other', *args, seed=5, progress=False, workers=2))
    assert other['sha256'] != one['sha256']
