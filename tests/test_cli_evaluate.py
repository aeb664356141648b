"""``captum-fggb evaluate`` on a small slice of the shared LFW folds with SFace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from captum_fggb.cli import main
from captum_fggb.evaluation import Results, strip_timing

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lfw(lfw_dir: Path) -> Path:
    return lfw_dir


def _args(lfw: Path, output: Path, *extra: str, method: str = "Saliency") -> list:
    return ["evaluate", "--model", "sface", "--pairs", str(lfw / "pairs.txt"), "--root", str(lfw / "aligned"),
            "--folds", "1", "2", "--limit", "2", "--steps", "6", "--methods", method,
            "--output", str(output), "--no-progress", *extra]


def test_cli_writes_results_plot_and_table(lfw: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "out" / "results.json"
    assert main(_args(lfw, output, "--plot", str(tmp_path / "curves.png"), "--table", str(tmp_path / "t.md"))) == 0
    doc = json.loads(output.read_text())
    assert doc["model"] == "sface" and doc["threshold"] == pytest.approx(0.363)
    assert doc["n_genuine"] == 2 and doc["n_impostor"] == 2
    assert list(doc["methods"]) == ["Saliency", "Random"]  # the floor is always added
    proto = doc["protocol"]
    assert proto["dataset"]["folds"] == [1, 2] and proto["dataset"]["crops"] == "sface112"
    assert proto["limit"] == 2 and proto["steps"] == 6 and proto["replacement"] == "black"
    # pairs.txt order: fold 1 starts with its genuine pairs, then its impostor pairs
    assert [p["a"] for p in doc["pairs"]] == [f"sface112/{n}/{n}_0001.png" for n in (
        "Abel_Pacheco", "Akhmed_Zakayev", "Abdel_Madi_Shabneh", "Abdel_Madi_Shabneh")]
    for name in ("Saliency", "Random"):
        for m, same in (("similarity", True), ("dissimilarity", False)):
            entry = doc["methods"][name][m]
            assert entry["n_pairs"] == 2 and len(entry["deletion_curve"]) == 6 and entry["seconds"] > 0
            scores = np.array(entry["deletion_scores"])
            # step 0 is the clean pair: genuine pairs accepted, impostors rejected at 0.363
            assert np.all((scores[:, 0] >= 0.363) == same)
            assert np.allclose(scores[:, 0], np.array(entry["insertion_scores"])[:, -1], atol=1e-5)
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    assert "| Saliency |" in (tmp_path / "t.md").read_text()
    assert "| Saliency |" in capsys.readouterr().out

    # --append adds a method and keeps the floor already in the file
    assert main(_args(lfw, output, "--append", method="InputXGradient")) == 0
    merged = Results.from_json(output)
    assert list(merged.methods) == ["Saliency", "Random", "InputXGradient"]


def test_cli_errors_are_one_line(lfw: Path, tmp_path: Path, capsys) -> None:
    assert main(_args(lfw, tmp_path / "r.json", "--option", "CorrRISE-n_masks=3")) == 2
    err = capsys.readouterr().err
    assert "METHOD.KEY=VALUE" in err and "Traceback" not in err
    assert main(["evaluate", "--pairs", str(tmp_path / "missing.txt"), "--root", str(lfw)]) == 2
    assert "missing.txt" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_under_torchrun_equals_single_process(lfw: Path, tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    outputs = {}
    for name, launcher in (("single", [sys.executable, "-m", "captum_fggb"]),
                           ("sharded", [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                        "--nproc_per_node=2", "-m", "captum_fggb"])):
        outputs[name] = tmp_path / f"{name}.json"
        args = _args(lfw, outputs[name], "--block-size", "1")
        done = subprocess.run(launcher + args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = (json.loads(p.read_text()) for p in outputs.values())
    assert two["run"]["world_size"] == 2 and strip_timing(one) == strip_timing(two)


def test_cli_reads_csv_pairs(lfw: Path, tmp_path: Path) -> None:
    from argparse import Namespace

    from captum_fggb.cli.evaluate import _dataset, parse_options

    crops = lfw / "aligned" / "sface112"
    csv = tmp_path / "pairs.csv"
    csv.write_text("path_a,path_b,same\nAbel_Pacheco/Abel_Pacheco_0001.png,Abel_Pacheco/Abel_Pacheco_0004.png,1\n"
                   "Abel_Pacheco/Abel_Pacheco_0001.png,Zico/Zico_0001.png,0\n")
    args = Namespace(pairs=str(csv), root=str(crops), folds=None, crops=None)
    dataset, info = _dataset(args, (112, 112))
    assert len(dataset) == 2 and info == {"type": "CSVPairs", "csv": "pairs.csv", "pairs": 2}
    assert parse_options(["CorrRISE.n_masks=200", "LIME.feature_mask=slic"], "--option") == {
        "CorrRISE": {"n_masks": 200}, "LIME": {"feature_mask": "slic"}}
