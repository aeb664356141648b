"""The tutorial notebooks: committed with their outputs, in sync with their sources, and they run."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="install the test extra: pip install -e '.[test]'")
pytest.importorskip("nbclient", reason="install the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="install the test extra: pip install -e '.[test]'")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", TUTORIALS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_notebooks = _generator()
NAMES = make_notebooks.names()


def test_every_tutorial_has_a_source_and_a_notebook():
    assert "FGGB_Face_Verification_Quickstart" in NAMES
    notebooks = sorted(p.stem for p in TUTORIALS.glob("*.ipynb"))
    assert notebooks == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_matches_its_source_and_has_outputs(name):
    committed = nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4)
    expected = make_notebooks.build(name)
    cells = [(c.cell_type, c.source) for c in committed.cells]
    assert cells == [(c.cell_type, c.source) for c in expected.cells], (
        f"tutorials/{name}.ipynb is out of date: run python tutorials/make_notebooks.py --only {name}"
    )
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "the notebook was not executed"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [base64.b64decode(o.data[kind]) for c in code for o in c.outputs
              for kind in ("image/png", "image/jpeg") if kind in o.get("data", {})]
    assert len(images) >= 4, "figures must be stored in the committed notebook"
    assert all(image[:8] == b"\x89PNG\r\n\x1a\n" or image[:3] == b"\xff\xd8\xff" for image in images)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, tmp_path):
    notebook = make_notebooks.build(name)
    make_notebooks.execute(notebook)  # raises CellExecutionError on the first failing cell
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not any(o.output_type == "error" for o in c.outputs) for c in code)
    text = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "genuine" in text and "accept=True" in text and "accept=False" in text
    assert "Accept: " in text and "Reject: " in text
