"""nuscenes-devkit's detection evaluation on the committed case tests/fixtures/nuscenes/, using the devkit alone.

The same file runs in two environments: ours (numpy 2, the devkit installed without its numpy<2 pin) in
tests/test_nuscenes_devkit.py, and one that honours the devkit's pins, where it wrote the reference:

    python -m venv /tmp/devkit-env && /tmp/devkit-env/bin/pip install nuscenes-devkit==1.2.0
    /tmp/devkit-env/bin/python tests/nuscenes_devkit_case.py tests/fixtures/nuscenes/devkit_reference.json

The case: a hand-built nuScenes tree (one scene, four samples at 2 Hz, one object of each detection class ahead
of the car and one behind; nbs/47_perception.nuscenes.ipynb builds the same tree) and three submissions: the
ground truth itself, the ground truth 1 m off, and a noisy one with misses, false positives and mixed scores.
`python tests/nuscenes_devkit_case.py --write-case` (in our environment, with lzu) wrote the case.
"""
import contextlib
import io
import json
import sys
import tempfile
from importlib import metadata
from pathlib import Path

CASE = Path(__file__).resolve().parent / "fixtures" / "nuscenes"
SUBMISSIONS = ("gt", "shifted", "noisy")


def evaluate_case(case: Path = CASE) -> dict:
    "Every submission of the case scored by the devkit: {submission: the devkit's serialized DetectionMetrics}."
    from nuscenes import NuScenes
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        nusc = NuScenes(version="v1.0-tiny", dataroot=str(case), verbose=False)
        for name in SUBMISSIONS:
            with tempfile.TemporaryDirectory() as tmp:
                ev = DetectionEval(nusc, config_factory("detection_cvpr_2019"), str(case / f"submission_{name}.json"),
                                   eval_set="tiny", output_dir=tmp, verbose=False)
                metrics, _ = ev.evaluate()
                out[name] = metrics.serialize()
    for m in out.values(): m.pop("eval_time", None)
    return out


def write_case(case: Path = CASE, seed: int = 0):
    "Write the case: lzu's hand-built tree (tables and map, no images) and the three submissions, from its annotation table."
    import numpy as np
    from lzu.perception.nuscenes import write_tiny_nuscenes
    from nuscenes import NuScenes
    from nuscenes.eval.detection.utils import category_to_detection_name
    write_tiny_nuscenes(case, images=False)
    with contextlib.redirect_stdout(io.StringIO()): nusc = NuScenes(version="v1.0-tiny", dataroot=str(case), verbose=False)
    rng = np.random.default_rng(seed)
    subs = {name: {s["token"]: [] for s in nusc.sample} for name in SUBMISSIONS}
    for a in nusc.sample_annotation:
        attr = [nusc.get("attribute", t)["name"] for t in a["attribute_tokens"]]
        rec = dict(sample_token=a["sample_token"], translation=list(a["translation"]), size=list(a["size"]),
                   rotation=list(a["rotation"]), velocity=[float(v) for v in nusc.box_velocity(a["token"])[:2]],
                   detection_name=category_to_detection_name(a["category_name"]), detection_score=1.0,
                   attribute_name=attr[0] if attr else "")
        subs["gt"][a["sample_token"]].append(rec)
        subs["shifted"][a["sample_token"]].append({**rec, "translation": [rec["translation"][0] + 1.0, *rec["translation"][1:]]})
        if rng.random() < 0.8:   # 20 % missed; the rest perturbed, with a score that falls with the error
            err = rng.normal(0, 0.6, 3)
            subs["noisy"][a["sample_token"]].append({**rec, "translation": (np.array(rec["translation"]) + err).tolist(),
                "size": (np.array(rec["size"]) * rng.uniform(0.8, 1.25, 3)).tolist(),
                "velocity": (np.array(rec["velocity"]) + rng.normal(0, 1.0, 2)).tolist(),
                "detection_score": float(np.exp(-np.linalg.norm(err)) * rng.uniform(0.5, 1.0))})
    for s in nusc.sample:   # false positives of random classes near the ego car, with lower scores
        ego = nusc.get("ego_pose", nusc.get("sample_data", s["data"]["LIDAR_TOP"])["ego_pose_token"])["translation"]
        for _ in range(3):
            subs["noisy"][s["token"]].append(dict(sample_token=s["token"], translation=[ego[0] + rng.uniform(5, 25), rng.uniform(-10, 10), 1.0],
                size=[1.9, 4.6, 1.7], rotation=[1.0, 0.0, 0.0, 0.0], velocity=[0.0, 0.0], detection_name="car",
                detection_score=float(rng.uniform(0.0, 0.4)), attribute_name="vehicle.parked"))
    meta = dict(use_camera=True, use_lidar=False, use_radar=False, use_map=False, use_external=False)
    for name, results in subs.items():
        (case / f"submission_{name}.json").write_text(json.dumps(dict(meta=meta, results=results), indent=0) + "\n")


def environment() -> dict:
    return {p: metadata.version(p) for p in ("nuscenes-devkit", "numpy", "shapely", "scikit-learn", "pyquaternion")}


if __name__ == "__main__":
    if sys.argv[1] == "--write-case": write_case(); sys.exit()
    import subprocess
    pip_check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True).stdout.strip()
    result = dict(environment=environment(), python=sys.version.split()[0], pip_check=pip_check, metrics=evaluate_case())
    Path(sys.argv[1]).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
