"""Shared fixtures: the real face data in ``../shared`` and small synthetic embedders.

The real data is looked up in ``$CAPTUM_FGGB_SHARED`` or in ``shared/`` beside the repository
clone. Tests that need it are skipped with a clear reason when it is absent; ``.ci/run`` checks
that it is present, so CI never skips them.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import torch

from captum_fggb import FaceVerificationPair, models
from captum_fggb.samples import load_image

from tests.helpers import TinyEmbedder

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    """Location of the project's shared data (may not exist)."""
    env = os.environ.get("CAPTUM_FGGB_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(1234)


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_root()
    if not (root / "faces" / "pairs.csv").is_file():
        pytest.skip(f"shared face data not found at {root} (set CAPTUM_FGGB_SHARED)")
    return root


@pytest.fixture(scope="session")
def faces_manifest(shared: Path) -> Dict[Tuple[str, str], Dict[str, str]]:
    """(set, id) -> manifest row of ``shared/faces/manifest.csv``."""
    with open(shared / "faces" / "manifest.csv", newline="") as handle:
        return {(r["set"], r["id"]): r for r in csv.DictReader(handle)}


@pytest.fixture(scope="session")
def faces_pairs(shared: Path) -> List[Dict[str, str]]:
    """Rows of ``shared/faces/pairs.csv`` (set, id_a, id_b, same_identity)."""
    with open(shared / "faces" / "pairs.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def load_crop(shared: Path, manifest: Dict, set_name: str, image_id: str, kind: str = "sface112") -> torch.Tensor:
    """A shared aligned crop as a ``(1, 3, H, W)`` tensor in [0, 1]."""
    return load_image(shared / "faces" / manifest[(set_name, image_id)][kind]).unsqueeze(0)


@pytest.fixture(scope="session")
def sface_model() -> torch.nn.Module:
    """The pretrained SFace (built once per session; tests must not modify it)."""
    return models.sface()


@pytest.fixture(scope="session")
def sface_pair(sface_model: torch.nn.Module) -> FaceVerificationPair:
    return FaceVerificationPair(sface_model)


@pytest.fixture
def tiny_pair() -> FaceVerificationPair:
    """A small random embedder (16×16 input, 12-d) wrapped in a pair with threshold 0.2."""
    return FaceVerificationPair(TinyEmbedder(seed=0), threshold=0.2)


@pytest.fixture(scope="session")
def lfw_dir(shared: Path) -> Path:
    """The shared LFW slice (``pairs.txt``, ``aligned/{sface112,dlib150}/``, ``scores.csv``)."""
    root = shared / "lfw"
    if not (root / "pairs.txt").is_file():
        pytest.skip(f"shared LFW slice not found at {root}")
    return root


@pytest.fixture(scope="session")
def dlib_model() -> torch.nn.Module:
    """The pretrained dlib ResNet (needs ``captum-fggb[dlib]``; built once per session)."""
    import importlib.util

    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip('dlib model file not installed (pip install "captum-fggb[dlib]")')
    return models.dlib_resnet()
