"""``torchrun`` with 2 CPU processes (gloo) writes the same results as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from captum_fggb.evaluation import strip_timing

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "eval_helpers.py"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["OMP_NUM_THREADS"] = "1"
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def _run(args: list, tmp_path: Path) -> None:
    done = subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_two_process_torchrun_equals_single_process(tmp_path: Path) -> None:
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    single.mkdir(), sharded.mkdir()
    _run([sys.executable, str(SCRIPT), str(single)], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
          str(SCRIPT), str(sharded)], tmp_path)
    for side in ("probe", "both"):
        one = json.loads((single / f"{side}.json").read_text())
        two = json.loads((sharded / f"{side}.json").read_text())
        assert one["run"]["world_size"] == 1 and two["run"]["world_size"] == 2
        assert one["n_genuine"] == 14 and one["n_impostor"] == 6  # 7 identities x 2 pairs sharing a probe
        assert one["protocol"]["side"] == side and one != two  # the timing fields differ
        assert strip_timing(one) == strip_timing(two)
