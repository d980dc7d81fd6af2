"""The DVC pipeline, end to end, at the smoke profile: `dvc repro` in a copy of the repository.

The copy holds what git would clone (tracked and untracked-but-not-ignored files), with profiles/smoke.yaml as
params.yaml; every stage must run and write its declared outputs. The committed results are not touched.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    "Run `dvc ARGS` in `repo`, with this environment's bin/ first on PATH (stages call `python`)."
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "dvc"), *args], cwd=repo, env=env, capture_output=True, text=True)


def _repo_files() -> list:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    return [f for f in out if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory) -> Path:
    "A copy of the repository, reproduced end to end with the smoke profile."
    dst = tmp_path_factory.mktemp("repo")
    for f in _repo_files():
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)
    shutil.copy2(ROOT / "profiles" / "smoke.yaml", dst / "params.yaml")
    (dst / "dvc.lock").unlink(missing_ok=True)   # the smoke profile starts from nothing: the default's lock is not its own
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    t0 = time.perf_counter()
    r = _dvc(dst, "repro")
    assert r.returncode == 0, f"dvc repro failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    print(f"smoke profile: dvc repro took {time.perf_counter() - t0:.0f} s")   # pytest -s shows it
    return dst


def _declared_outputs(repo: Path) -> list:
    "Every output path of dvc.yaml, foreach stages expanded with the repo's params.yaml."
    from lzu.pipeline import _expand_foreach
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    paths = []
    for _, stage in [e for n, s in stages.items() for e in _expand_foreach(n, s, params)]:
        for key in ("outs", "metrics", "plots"):
            for o in stage.get(key, []):
                paths.append(next(iter(o)) if isinstance(o, dict) else o)
    return paths


def test_every_declared_output_is_written(smoke_repo):
    missing = [p for p in _declared_outputs(smoke_repo) if not (smoke_repo / p).exists() or (smoke_repo / p).stat().st_size == 0]
    assert not missing, f"stages did not write {missing}"


def test_tables_name_their_profile_and_data(smoke_repo):
    tables = [*(smoke_repo / "results" / "tables").glob("lzu_*.md"), *(smoke_repo / "results" / "tables").glob("zoomlearn_*.md")]
    assert len(tables) >= 5, tables
    for md in tables:
        text = md.read_text()
        assert "smoke" in text and "SYNTHETIC" in text.upper(), f"{md.name} does not name the profile and the data"


def test_foreach_items_each_write_their_results(smoke_repo):
    "Every sr_models entry of the smoke profile trained, scored, and reached the Zoom-to-Learn tables."
    items = yaml.safe_load((smoke_repo / "params.yaml").read_text())["sr_models"]
    for item in items:
        r = json.loads((smoke_repo / "results" / "sr" / f"{item}.json").read_text())
        assert r["item"] == item and r["summary"]["pairs"] > 0 and r["profile"] == "smoke"
    t1 = (smoke_repo / "results" / "tables" / "zoomlearn_table1.csv").read_text()
    assert "Bicubic" in t1 and all({"l1": "L1", "cx": "CX", "cobi": "CoBi"}[spec["loss"]] in t1 for spec in items.values())


def test_perception_items_each_write_their_results(smoke_repo):
    "Every det_models and seg_models entry trained and scored on the generated scenes, and reached the LZU tables."
    params = yaml.safe_load((smoke_repo / "params.yaml").read_text())
    for item, spec in params["det_models"].items():
        r = json.loads((smoke_repo / "results" / "perception" / "det" / f"{item}.json").read_text())
        assert r["item"] == item and r["profile"] == "smoke" and r["synthetic"] and r["val"]["frames"] > 0
        assert r["experiment"]["method"] == spec["method"] and r["train_info"]["steps"] == spec["steps"]
        assert set(r["val"]) >= {"AP", "AP50", "AP75", "APs", "APm", "APl"}
        if spec["method"] != "adaptive":   # Table 2: scored from every source scale
            assert sorted(map(float, r["from_scales"])) == sorted(params["det_train"]["source_scales"])
        if spec["method"] == "fixed":      # the saliency the Table 6 search chose on held-out training sequences
            best = json.loads((smoke_repo / "results" / "perception" / "det_search.json").read_text())["best"]
            assert r["saliency_from_search"]["amplitude"] == best["amplitude"] and r["experiment"]["fwhm"] == best["fwhm"]
    for item, spec in params["seg_models"].items():
        r = json.loads((smoke_repo / "results" / "perception" / "seg" / f"{item}.json").read_text())
        assert r["item"] == item and r["profile"] == "smoke" and 0 <= r["val"]["mIoU"] <= 1
        fl = r["val"]["flops"]   # the network, and what LZU's zoom + unzoom would add to it (a small share)
        assert fl["network"] > 0 and 0 < fl["extra"] < 0.05 * fl["network"] and r["val"]["method"] == spec["method"]
        assert fl["total"] == fl["network"] + (fl["extra"] if spec["method"] == "fixed" else fl["uniform_resize"])
    t1 = (smoke_repo / "results" / "tables" / "lzu_table1.csv").read_text()
    assert "Uniform" in t1 and "LZU, fixed" in t1 and "LZU, adaptive" in t1
    t3 = (smoke_repo / "results" / "tables" / "lzu_table3.csv").read_text()
    assert "ours" in t3 and "paper" in t3


def test_a3_metrics_are_finite(smoke_repo):
    a3 = json.loads((smoke_repo / "results" / "metrics" / "lzu_a3.json").read_text())
    text = json.dumps(a3)
    assert "NaN" not in text and "Infinity" not in text


def test_second_repro_does_nothing(smoke_repo):
    r = _dvc(smoke_repo, "status", "dvc.yaml")
    assert r.returncode == 0 and "changed" not in r.stdout, r.stdout


def _changed_stages(repo: Path, **edits) -> set:
    "The stages `dvc status` finds out of date after setting params.yaml keys (`section__key=value`); params.yaml is restored."
    p, text = repo / "params.yaml", (repo / "params.yaml").read_text()
    params = yaml.safe_load(text)
    for path, value in edits.items():
        *parents, last = path.split("__")
        node = params
        for k in parents: node = node[k]
        node[last] = value
    try:
        p.write_text(yaml.safe_dump(params, sort_keys=False))
        r = _dvc(repo, "status", "--json", "dvc.yaml")
        assert r.returncode == 0, r.stderr
        return set(json.loads(r.stdout or "{}"))
    finally:
        p.write_text(text)


def test_one_parameter_reruns_only_what_reads_it(smoke_repo):
    "A stage's own parameter makes only that stage out of date; a foreach item's makes only that item (and the stages listing the items)."
    assert _changed_stages(smoke_repo) == set()
    assert _changed_stages(smoke_repo, bench_zoom__repeats=3) == {"bench_zoom"}
    assert _changed_stages(smoke_repo, det_models__fixed_050x__steps=4) == {"det_train@fixed_050x", "perception_tables", "results_index"}
    assert _changed_stages(smoke_repo, sr_train__lr=2.0e-3) == {f"sr_train@{k}" for k in yaml.safe_load((smoke_repo / "params.yaml").read_text())["sr_models"]}


def test_results_index_is_current():
    "results/README.md lists exactly the outputs dvc.yaml describes (rerun `dvc repro results_index -f` if not)."
    from lzu.pipeline import results_index
    assert (ROOT / "results" / "README.md").read_text() == results_index(ROOT / "dvc.yaml", ROOT / "params.yaml"), \
        "results/README.md is stale: run `dvc repro -f results_index`"
