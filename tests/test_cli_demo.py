"""``captum-fggb demo``: scores, decisions and the figure."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from captum_fggb.cli import main


def test_demo_writes_figure(tmp_path, capsys):
    output = tmp_path / "figs" / "demo.png"
    assert main(["demo", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "genuine" in out and "Accept" in out
    assert "impostor" in out and "Reject" in out
    regions = [line for line in out.splitlines() if "regions (both faces):" in line]
    assert len(regions) == 2  # one summary line per pair
    assert "Accept: " in regions[0] and "% of the similarity mass " in regions[0]
    assert "Reject: " in regions[1] and "% of the dissimilarity mass " in regions[1]
    assert str(output.resolve()) in out
    with Image.open(output) as img:
        width, height = img.size
    assert img.format == "PNG" and width > height > 300  # two rows of six panels


def test_cli_error_is_one_line_without_traceback(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "captum_fggb", "demo", "--output", str(blocker / "x.png")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("captum-fggb demo: error:")
