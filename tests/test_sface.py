"""SFace: parity with onnxruntime, a real face model on real faces, file verification."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from captum_fggb import models
from captum_fggb.errors import InvalidInputError, ModelFileError
from captum_fggb.models._files import SFACE_ONNX

from .conftest import load_crop


def test_builder_contract(sface_model):
    assert not sface_model.training
    assert all(not p.requires_grad for p in sface_model.parameters())
    assert sface_model.verification_threshold == pytest.approx(0.363)
    assert sface_model.input_size == (112, 112)
    assert sface_model.meta["sha256"] == SFACE_ONNX.sha256
    out = sface_model(torch.rand(2, 3, 112, 112))
    assert out.shape == (2, 128) and torch.isfinite(out).all()


def test_registry_builds_sface():
    assert "sface" in models.available()
    assert isinstance(models.get("sface"), models.SFace)
    with pytest.raises(InvalidInputError, match="unknown model 'nope'.*sface"):
        models.get("nope")


def test_parity_with_onnxruntime(shared, faces_manifest, sface_model):
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(SFACE_ONNX.locate()), options, providers=["CPUExecutionProvider"])
    # the graph declares its float weights as (unused) inputs: feed zeros of the right shape
    dummies = {i.name: np.zeros(i.shape, np.float32) for i in session.get_inputs() if i.name != "data"}
    worst = 0.0
    crops = [load_crop(shared, faces_manifest, s, i) for (s, i) in sorted(faces_manifest)]
    assert len(crops) == 90
    with torch.no_grad():
        ours = sface_model(torch.cat(crops)).numpy()
    for k, crop in enumerate(crops):
        (theirs,) = session.run(None, {"data": crop.numpy() * 255.0, **dummies})
        worst = max(worst, float(np.abs(theirs[0] - ours[k]).max()))
    assert worst <= 1e-4, worst


def test_real_face_model_on_deepface_master(shared, faces_manifest, faces_pairs, sface_model):
    rows = [r for r in faces_pairs if r["set"] == "deepface_master"]
    ids = sorted({r["id_a"] for r in rows} | {r["id_b"] for r in rows})
    with torch.no_grad():
        emb = sface_model(torch.cat([load_crop(shared, faces_manifest, "deepface_master", i) for i in ids]))
    unit = dict(zip(ids, F.normalize(emb, dim=1)))
    scores = np.array([float(unit[r["id_a"]] @ unit[r["id_b"]]) for r in rows])
    same = np.array([r["same_identity"] == "1" for r in rows])
    assert same.sum() == 38 and (~same).sum() == 262
    accuracy = float(((scores >= 0.363) == same).mean())
    assert accuracy >= 0.98, accuracy
    assert scores[same].mean() - scores[~same].mean() >= 0.4


def test_tampered_file_is_refused(tmp_path: Path):
    bad = tmp_path / "sface.onnx"
    shutil.copy(SFACE_ONNX.locate(), bad)
    with open(bad, "r+b") as handle:
        handle.seek(5000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelFileError, match="SHA-256"):
        models.sface(onnx_path=bad, sha256=SFACE_ONNX.sha256)


def test_user_onnx_path_needs_digest(tmp_path: Path):
    with pytest.raises(ValueError, match="sha256"):
        models.sface(onnx_path=tmp_path / "x.onnx")
    with pytest.raises(FileNotFoundError):
        models.sface(onnx_path=tmp_path / "x.onnx", sha256="0" * 64)


def test_models_are_independent_copies():
    a, b = models.sface(), models.sface()
    with torch.no_grad():
        a.fc.bias.add_(1.0)
    assert not torch.equal(a.fc.bias, b.fc.bias)
