"""nuscenes-devkit gives the same numbers under our numpy as under its own pin.

The devkit (1.2.0) declares numpy<2; this environment has numpy 2 and installs it without its dependencies
(requirements-nodeps.txt). tests/nuscenes_devkit_case.py scores a committed case (a hand-built nuScenes tree and
three submissions: the ground truth, the ground truth 1 m off, a noisy one) with the devkit alone.
tests/fixtures/nuscenes/devkit_reference.json holds its numbers from an environment that honours every pin of the
devkit (its `pip check` is recorded there); here the same case must give the same numbers, every one of them.
"""
import json
import math
from importlib import metadata

from packaging.version import Version

from nuscenes_devkit_case import CASE, SUBMISSIONS, evaluate_case

REFERENCE = json.loads((CASE / "devkit_reference.json").read_text())


def numbers(x, path=""):
    "Every number of a nested json value, by its path."
    if isinstance(x, dict): return {k: v for key in x for k, v in numbers(x[key], f"{path}/{key}").items()}
    if isinstance(x, list): return {k: v for i, item in enumerate(x) for k, v in numbers(item, f"{path}[{i}]").items()}
    return {path: x}


def test_the_reference_honours_the_devkits_pins_and_ours_departs():
    assert Version(REFERENCE["environment"]["numpy"]) < Version("2"), REFERENCE["environment"]
    assert REFERENCE["pip_check"] == "No broken requirements found.", REFERENCE["pip_check"]
    assert REFERENCE["environment"]["nuscenes-devkit"] == metadata.version("nuscenes-devkit")
    assert Version(metadata.version("numpy")) >= Version("2")


def test_the_devkit_scores_the_case_as_under_its_own_pins():
    ours, ref = numbers(evaluate_case()), numbers(REFERENCE["metrics"])
    assert set(ours) == set(ref)
    assert len(ref) > 300 and all(f"/{s}/nd_score" in ref for s in SUBMISSIONS)
    differ = {k: (ours[k], ref[k]) for k in ref
              if not (ours[k] == ref[k] or (isinstance(ref[k], float) and math.isnan(ref[k]) and math.isnan(ours[k])))}
    assert not differ, f"{len(differ)} numbers differ, e.g. {list(differ.items())[:3]}"
    assert abs(ref["/gt/nd_score"] - 1.0) < 1e-12 and ref["/shifted/nd_score"] < 0.9   # the ground truth scores the maximum
