"""Defaults in one place: every experiment notebook's `parameters` cell equals what `dvc repro` passes it.

A notebook run by hand (Jupyter, `nbdev_test`) then trains and scores exactly what the pipeline does on the committed
`params.yaml` (the embedded default). For a foreach stage the notebook holds the first item's settings."""
import ast
import json
from pathlib import Path

import pytest

from lzu.pipeline import FOREACH, NOTEBOOK_STAGES, load_params, stage_parameters

ROOT = Path(__file__).resolve().parent.parent


def notebook_parameters(path: Path) -> dict:
    "The names and literal values assigned in the notebook's cell tagged `parameters`."
    cells = [c for c in json.loads(path.read_text())['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(cells) == 1, f"{path} must have exactly one cell tagged 'parameters', has {len(cells)}"
    out = {}
    for node in ast.parse(''.join(cells[0]['source'])).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, f"{path}: the parameters cell holds only `name = literal` lines"
        out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def _lists(v):
    "Tuples as lists, recursively (YAML and the notebook's literals agree on everything else)."
    if isinstance(v, dict): return {k: _lists(x) for k, x in v.items()}
    return [_lists(x) for x in v] if isinstance(v, (list, tuple)) else v


@pytest.mark.parametrize("stage", sorted(NOTEBOOK_STAGES))
def test_notebook_parameters_equal_the_default(stage):
    params = load_params(ROOT / 'params.yaml')
    item = next(iter(params[FOREACH[stage]])) if stage in FOREACH else None
    want = _lists(stage_parameters(params, stage, item=item))
    got = notebook_parameters(ROOT / NOTEBOOK_STAGES[stage][0])
    diff = {k: (got.get(k, '<missing>'), want.get(k, '<missing>')) for k in set(got) | set(want) if got.get(k, '<none>') != want.get(k, '<none>')}
    assert not diff, f"{NOTEBOOK_STAGES[stage][0]}: parameters (notebook, params.yaml) differ: {diff}"
