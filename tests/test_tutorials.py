"""The tutorial notebooks: committed with their outputs, in sync with their sources, and they run."""

from __future__ import annotations

import base64
import importlib.util
import math
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="install the test extra: pip install -e '.[test]'")
pytest.importorskip("nbclient", reason="install the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="install the test extra: pip install -e '.[test]'")

from nbclient.exceptions import CellExecutionError  # noqa: E402

from captum_fggb import methods as cf_methods  # noqa: E402

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
COMPARING = "Comparing_Attribution_Methods_On_Face_Pairs"
LFW = "Evaluating_Face_Explanations_On_LFW"


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", TUTORIALS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_notebooks = _generator()
NAMES = make_notebooks.names()


def test_every_tutorial_has_a_source_and_a_notebook():
    assert {"FGGB_Face_Verification_Quickstart", COMPARING, LFW} <= set(NAMES)
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


def _stream_text(notebook) -> str:
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")


def _check_quickstart(text: str) -> None:
    assert "genuine" in text and "accept=True" in text and "accept=False" in text
    assert "Accept: " in text and "Reject: " in text


def _check_comparing(text: str) -> None:
    assert "fast mode" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()
            if line.split() and line.split()[0] in cf_methods.available()}
    assert sorted(rows) == sorted(cf_methods.available()), "one table row per registered method"
    for name, cells in rows.items():
        seconds, infid, sens = (float(v) for v in cells)  # fast mode: one pair
        assert math.isfinite(infid) and infid >= 0, name
        assert math.isfinite(sens) and sens >= 0, name
    # the maps of the random floor are new noise on every call: the least stable of all but the
    # surrogate fits; a gradient-averaging method (FGGB) is far more stable than the floor
    assert float(rows["FGGB"][2]) < float(rows["Random"][2])


def _check_lfw(text: str) -> None:
    assert "first 1 genuine and 1 impostor" in text
    assert "1 genuine + 1 impostor pairs" in text
    for name in ("FGGB", "xSSAB", "Saliency", "LayerGradCam", "Random"):
        assert text.count(f"| {name} |") == 2, name  # accuracy table and score table


CHECKS = {"FGGB_Face_Verification_Quickstart": _check_quickstart, COMPARING: _check_comparing, LFW: _check_lfw}


@pytest.fixture
def kernel_env(monkeypatch):
    """Small settings for the notebooks (CAPTUM_FGGB_TUTORIAL_FAST) and one thread per kernel:
    FGGB's 128 small backward passes per image slow down by an order of magnitude when two
    threads compete with other processes for the CPUs."""
    monkeypatch.setenv("CAPTUM_FGGB_TUTORIAL_FAST", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("CAPTUM_FGGB_TUTORIAL_LIMIT", raising=False)
    return monkeypatch


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, kernel_env, request):
    if name == LFW:
        kernel_env.setenv("CAPTUM_FGGB_LFW", str(request.getfixturevalue("lfw_dir")))
    notebook = make_notebooks.build(name)
    make_notebooks.execute(notebook)  # raises CellExecutionError on the first failing cell
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not any(o.output_type == "error" for o in c.outputs) for c in code)
    assert sum("image/jpeg" in o.get("data", {}) or "image/png" in o.get("data", {})
               for c in code for o in c.outputs) >= 4, "every figure is drawn"
    CHECKS.get(name, lambda text: None)(_stream_text(notebook))


@pytest.mark.parametrize("value", [None, "missing-folder"])
def test_lfw_notebook_says_what_to_set(value, kernel_env, tmp_path):
    if value is None:
        kernel_env.delenv("CAPTUM_FGGB_LFW", raising=False)
    else:
        kernel_env.setenv("CAPTUM_FGGB_LFW", str(tmp_path / value))
    notebook = make_notebooks.build(LFW)
    first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    notebook.cells = notebook.cells[: first_code + 1]  # the cell that checks the variable
    with pytest.raises(CellExecutionError) as error:
        make_notebooks.execute(notebook)
    message = str(error.value)
    assert "Set the environment variable CAPTUM_FGGB_LFW" in message and "pairs.txt" in message
    assert ("is not set" in message) if value is None else ("is not an LFW folder" in message)
