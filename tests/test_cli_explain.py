"""``captum-fggb explain``: two photos in, score + decision + figure out; one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from captum_fggb import FGGB, FaceVerificationPair, models, samples
from captum_fggb.align import align_face
from captum_fggb.cli import main

REPO = Path(__file__).resolve().parents[1]


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("captum-fggb explain: error: ")
    return lines[0]


def test_explain_genuine_pair_json(tmp_path, capsys, sface_pair):
    a, b = samples.photo_path("macron_1"), samples.photo_path("macron_2")
    figure = tmp_path / "out" / "fig.png"
    assert main(["explain", str(a), str(b), "--output", str(figure), "--json"]) == 0
    out, _ = capsys.readouterr()
    result = json.loads(out)  # stdout is exactly one JSON object
    assert result["model"] == "sface" and result["model_input"] == "arcface112"
    assert result["threshold"] == pytest.approx(0.363)
    assert result["decision"] == "Accept"
    assert result["written"] == [str(figure.resolve())]
    with Image.open(figure) as img:
        assert img.format == "PNG" and img.size[0] > 600
    # the score is SFace's cosine of the two aligned photos
    with torch.no_grad():
        expected = float(sface_pair(align_face(a).image[None], align_face(b).image[None]))
    assert result["score"] == pytest.approx(expected, abs=1e-5)
    assert result["score"] >= 0.363
    assert [face["faces_found"] for face in result["faces"]] == [1, 1]
    # the region summary of both faces explains the Accept by the similarity mass
    regions = result["regions"]
    assert regions["decision"] == "Accept" and regions["faces"] == 2
    assert regions["similarity_mass"] > regions["dissimilarity_mass"] >= 0  # FGGB on SFace: near one-signed
    assert sum(regions["similarity"].values()) == pytest.approx(1.0, abs=1e-6)
    assert regions["sentence"].startswith("Accept: ") and "of the similarity mass" in regions["sentence"]


def test_explain_text_output_and_threshold(tmp_path, capsys, monkeypatch):
    """Text mode, impostor pair, user threshold; FGGB replaced by zeros to keep this test cheap."""
    calls = []

    def zero_maps(self, inputs, **kwargs):
        calls.append(kwargs)
        return tuple(torch.zeros_like(x) for x in inputs)

    monkeypatch.setattr(FGGB, "attribute", zero_maps)
    a, b = samples.photo_path("ardern_1"), samples.photo_path("obama_1")
    figure = tmp_path / "impostor.png"
    assert main(["explain", str(a), str(b), "-o", str(figure), "--threshold", "0.2"]) == 0
    out, _ = capsys.readouterr()
    first, regions, second = out.strip().splitlines()
    assert "cosine" in first and "(threshold 0.200) -> Reject" in first
    # zero maps: the region line says so rather than inventing shares
    assert regions == "regions (both faces): Reject: no dissimilarity mass (the dissimilarity map is zero)."
    assert second == f"figure written to {figure.resolve()}"
    assert figure.is_file() and len(calls) == 1


def test_explain_checkpoint(tmp_path, capsys, monkeypatch):
    if not hasattr(models, "load_checkpoint") or "mobilefacenet" not in models.available():
        pytest.skip("checkpoint loading (models.load_checkpoint) is not in this version yet")
    monkeypatch.setattr(FGGB, "attribute", lambda self, inputs, **kw: tuple(torch.zeros_like(x) for x in inputs))
    torch.manual_seed(0)
    checkpoint = tmp_path / "backbone.pth"
    net = models.get("mobilefacenet")
    torch.save(net.state_dict(), checkpoint)
    a, b = samples.photo_path("macron_1"), samples.photo_path("macron_2")
    argv = ["explain", str(a), str(b), "--model", str(checkpoint), "--arch", "mobilefacenet",
            "--threshold", "0.3", "-o", str(tmp_path / "f.png"), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model_input"] == "arcface112" and result["threshold"] == pytest.approx(0.3)
    pair = FaceVerificationPair(net, threshold=0.3)
    with torch.no_grad():
        expected = float(pair(align_face(a).image[None], align_face(b).image[None]))
    assert result["score"] == pytest.approx(expected, abs=1e-5)


def test_explain_dlib(tmp_path, capsys, monkeypatch, dlib_model):
    """--model dlib aligns dlib150 chips and uses dlib's calibrated threshold (FGGB replaced by zeros)."""
    pytest.importorskip("dlib")
    monkeypatch.setattr(FGGB, "attribute", lambda self, inputs, **kw: tuple(torch.zeros_like(x) for x in inputs))
    a, b = samples.photo_path("ardern_1"), samples.photo_path("ardern_2")
    assert main(["explain", str(a), str(b), "--model", "dlib", "-o", str(tmp_path / "d.png"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "dlib" and result["model_input"] == "dlib150"
    assert result["threshold"] == pytest.approx(dlib_model.verification_threshold)
    pair = FaceVerificationPair(dlib_model)
    chips = [align_face(p, model_input="dlib150").image[None] for p in (a, b)]
    with torch.no_grad():
        expected = float(pair(*chips))
    assert result["score"] == pytest.approx(expected, abs=1e-5)
    assert result["decision"] == "Accept"


def test_explain_errors_are_one_line(tmp_path, capsys):
    a, b = str(samples.photo_path("macron_1")), str(samples.photo_path("macron_2"))
    out = ["-o", str(tmp_path / "never.png")]
    assert "missing.jpg" in one_line_error(capsys, ["explain", a, str(tmp_path / "missing.jpg")] + out)
    assert "resnet9000" in one_line_error(capsys, ["explain", a, b, "--model", "resnet9000"] + out)
    assert "--threshold" in one_line_error(capsys, ["explain", a, b, "--threshold", "abc"] + out)
    assert "[-1, 1]" in one_line_error(capsys, ["explain", a, b, "--threshold", "1.5"] + out)
    assert "not found" in one_line_error(capsys, ["explain", a, b, "--model", str(tmp_path / "nope.pth")] + out)
    checkpoint = tmp_path / "weights.pth"
    checkpoint.write_bytes(b"\0")
    assert "--arch" in one_line_error(capsys, ["explain", a, b, "--model", str(checkpoint)] + out)
    assert "--arch" in one_line_error(capsys, ["explain", a, b, "--arch", "iresnet50"] + out)
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    assert "notes.jpg" in one_line_error(capsys, ["explain", str(text), b] + out)
    if "dlib_resnet" not in models.available():
        assert "dlib" in one_line_error(capsys, ["explain", a, b, "--model", "dlib"] + out)
    assert not (tmp_path / "never.png").exists()


def test_explain_no_face_subprocess(tmp_path):
    """Through the real entry point: exit 2, exactly one line on stderr (no OpenCV log, no traceback)."""
    flat = tmp_path / "wall.png"
    Image.new("RGB", (400, 300), (120, 120, 120)).save(flat)
    photo = str(samples.photo_path("sunak_1"))
    proc = subprocess.run(
        [sys.executable, "-m", "captum_fggb", "explain", photo, str(flat), "-o", str(tmp_path / "x.png")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no face found" in lines[0] and "wall.png" in lines[0], proc.stderr
