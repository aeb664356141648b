"""The bad-input matrix: every public entry point refuses bad input with a clear, one-line error.

Each row is one bad (or borderline but allowed) input to one entry point: the pair wrapper, FGGB,
the models, alignment, the data loaders, calibration, model files and the CLI. A refused input
must raise ``ValueError``/``TypeError``/``FileNotFoundError`` or a class of
:mod:`captum_fggb.errors`, never a bare ``RuntimeError``/``IndexError``, with a one-line message
that contains the given fragments (they name the argument and the fix). CLI rows must print one
line on stderr and exit with status 2. Every method of :mod:`captum_fggb.methods` and the
``captum-fggb evaluate`` command get their rows when those modules are present.

Everything here fails before the heavy work, or runs on the 16x16 ``TinyEmbedder``.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch
from captum.attr import NoiseTunnel
from PIL import Image
from torch import nn

import captum_fggb as cf
from captum_fggb import calibration, data, models, samples
from captum_fggb.align import align_face, align_faces
from captum_fggb.cli import main as cli_main
from captum_fggb.errors import (
    CaptumFGGBError,
    EmbedderOutputError,
    InvalidInputError,
    ModelFileError,
    NoFaceError,
)
from captum_fggb.models._files import sha256_of, verified_path

from tests.bad_files import Files
from tests.helpers import TinyEmbedder

# The registry warns that GuidedBackprop equals Saliency on PReLU models such as TinyEmbedder.
pytestmark = pytest.mark.filterwarnings("ignore:.*GuidedBackprop only modifies nn.ReLU:UserWarning")
REPO = Path(__file__).resolve().parents[1]
ALLOWED = (ValueError, TypeError, FileNotFoundError, CaptumFGGBError)
S = (16, 16)  # TinyEmbedder's input size


# ---------------------------------------------------------------- shared bad files and models
@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("bad_inputs"))


_MODELS: dict = {}


def model(name: str) -> nn.Module:
    """The package's models, built once per session (random weights except sface/dlib_resnet)."""
    if name == "dlib_resnet":
        pytest.importorskip("face_recognition_models", reason='needs captum-fggb[dlib]')
    if name not in _MODELS:
        _MODELS[name] = models.get(name)
    return _MODELS[name]


def tiny_pair(threshold: float = 0.2) -> cf.FaceVerificationPair:
    return cf.FaceVerificationPair(TinyEmbedder(), threshold=threshold)


def img(n: int = 1, size: Tuple[int, int] = S, **kw: Any) -> torch.Tensor:
    return torch.rand(n, 3, *size, generator=torch.Generator().manual_seed(n), **kw)


class Returns(nn.Module):
    """An embedder whose output is ``make(x)``: tuples, dicts, wrong ranks, zero or NaN rows."""

    input_size = S

    def __init__(self, make: Callable[[torch.Tensor], Any]) -> None:
        super().__init__()
        self.make = make
        self.conv = nn.Conv2d(3, 3, 1)  # identity; a spatial layer for LayerGradCam
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> Any:
        return self.make(self.conv(x).flatten(1)[:, :24])


# ---------------------------------------------------------------- the rows
Row = Tuple[str, Callable[[Files], Any], Optional[type], Tuple[str, ...]]
# (id, call, expected exception (None: the input is allowed), message fragments)


def _rows_images() -> List[Row]:
    """Image batches given to the pair wrapper (probe side; the reference side is named too)."""
    bad = [
        ("rank3-single-image", lambda: torch.rand(3, *S), InvalidInputError, ("probe", "(N, 3, H, W)", ".unsqueeze(0)")),
        ("rank5", lambda: torch.rand(1, 1, 3, *S), InvalidInputError, ("probe", "(N, 3, H, W)")),
        ("grayscale-1-channel", lambda: torch.rand(1, 1, *S), InvalidInputError, ("probe", "3 colour channels", "expand(-1, 3, -1, -1)")),
        ("rgba-4-channels", lambda: torch.rand(1, 4, *S), InvalidInputError, ("probe", "RGBA", "[:, :3]")),
        ("channels-last-hwc", lambda: torch.rand(1, *S, 3), InvalidInputError, ("probe", "channel dimension second")),
        ("wrong-spatial-size", lambda: torch.rand(1, 3, 20, 20), InvalidInputError, ("probe", "(20, 20)", "expects (16, 16)", "align")),
        ("uint8", lambda: (torch.rand(1, 3, *S) * 255).to(torch.uint8), InvalidInputError, ("probe", "integer dtype", ".float() / 255")),
        ("uint16-16-bit", lambda: torch.full((1, 3, *S), 40000, dtype=torch.uint16), InvalidInputError, ("probe", "torch.uint16", "[0, 1]")),
        ("float64", lambda: img(dtype=torch.float64), InvalidInputError, ("probe", "float64", ".to(torch.float32)")),
        ("float-0-255", lambda: img() * 255, InvalidInputError, ("probe", "0-255 image", "divide it by 255")),
        ("nan", lambda: torch.full((1, 3, *S), float("nan")), InvalidInputError, ("probe", "NaN", "clean the image")),
        ("inf", lambda: img().index_fill_(2, torch.tensor([3]), float("inf")), InvalidInputError, ("probe", "infinite")),
        ("empty-batch", lambda: torch.rand(0, 3, *S), InvalidInputError, ("probe", "empty batch", "at least one image")),
        ("numpy-array", lambda: img().numpy(), TypeError, ("probe", "torch.Tensor", "load_image")),
        ("just-above-the-noise-bound", lambda: img().clamp(0, 1).index_fill_(3, torch.tensor([0]), 3.01), InvalidInputError, ("probe", "[0, 1]")),
    ]
    rows: List[Row] = [
        (f"pair-probe-{name}", (lambda make: lambda f: tiny_pair()(make(), img()))(make), err, frags)
        for name, make, err, frags in bad
    ]
    rows += [
        ("pair-reference-float-0-255", lambda f: tiny_pair()(img(), img() * 255), InvalidInputError, ("reference", "divide it by 255")),
        ("pair-batch-mismatch-2-vs-3", lambda f: tiny_pair()(img(2), img(3)), InvalidInputError, ("batch size 2", "reference has 3", "a batch of 1")),
        ("pair-embed-wrong-size", lambda f: tiny_pair().embed(torch.rand(2, 3, 8, 8), "gallery"), InvalidInputError, ("gallery", "(8, 8)")),
        ("fggb-probe-uint8", lambda f: cf.FGGB(tiny_pair()).attribute(((img() * 255).byte(), img())), InvalidInputError, ("probe", "integer dtype")),
        ("fggb-batch-mismatch", lambda f: cf.FGGB(tiny_pair()).attribute((img(2), img(3))), InvalidInputError, ("batch size 2", "reference has 3")),
        ("fggb-empty-reference", lambda f: cf.FGGB(tiny_pair()).attribute(img(), additional_forward_args=(torch.rand(0, 3, *S),)), InvalidInputError, ("reference", "empty batch")),
        ("fggb-dimension-maps-nan", lambda f: cf.FGGB(tiny_pair()).dimension_maps(torch.full((1, 3, *S), float("nan"))), InvalidInputError, ("images", "NaN")),
        # allowed: NoiseTunnel-size excursions around [0, 1], the bounds themselves, and 1 vs K
        ("pair-noise-excursion-allowed", lambda f: tiny_pair()(img(2) * 1.6 - 0.3, img(2) + 0.4 * torch.randn(2, 3, *S)), None, ()),
        ("pair-range-bounds-allowed", lambda f: tiny_pair()(img().clamp(0, 1).index_fill_(3, torch.tensor([0, 1]), 3.0), img() - 2.0 * (img() > 0.5)), None, ()),
        ("noise-tunnel-fggb-allowed", lambda f: NoiseTunnel(cf.FGGB(tiny_pair())).attribute((img(2), img(2)), nt_samples=3, stdevs=0.3), None, ()),
        ("pair-1-vs-k-allowed", lambda f: tiny_pair()(img(1), img(4)), None, ()),
        ("pair-k-vs-1-allowed", lambda f: tiny_pair()(img(4), img(1)), None, ()),
    ]
    return rows


_OUTPUTS = [
    ("tuple", lambda e: (e[:, :8], e[:, 8:16]), ("returned a tuple", "forward() returns only the embedding tensor")),
    ("dict", lambda e: {"embedding": e[:, :8]}, ("returned a dict", "forward() returns only the embedding tensor")),
    ("1d-tensor", lambda e: e[:, 0], ("returned shape (2,)", "expected (2, D)", "wrapper module")),
    ("3d-tensor", lambda e: e.reshape(-1, 4, 6), ("returned shape (2, 4, 6)", "expected (2, D)")),
    ("wrong-batch", lambda e: e[:1, :8], ("returned shape (1, 8) for a batch of 2",)),
    ("zero-norm-row", lambda e: torch.cat([e[:1, :8] * 0, e[1:, :8]]), ("all-zero embedding (rows [0])", "cosine similarity is undefined", "blank or constant image")),
    ("nan-embedding", lambda e: e[:, :8] * float("nan"), ("NaN or infinite embeddings", "[0, 1]")),
]


def _rows_embedders() -> List[Row]:
    rows: List[Row] = []
    for name, make, frags in _OUTPUTS:
        pair = (lambda make: lambda: cf.FaceVerificationPair(Returns(make), threshold=0.3))(make)
        rows.append((f"embedder-{name}-pair", (lambda p: lambda f: p()(img(2), img(2)))(pair), EmbedderOutputError, frags))
        rows.append((f"embedder-{name}-fggb", (lambda p: lambda f: cf.FGGB(p()).attribute((img(2), img(2))))(pair), EmbedderOutputError, frags))
    rows += [
        ("embedder-not-a-module", lambda f: cf.FaceVerificationPair(lambda x: x, threshold=0.3), TypeError, ("embedder must be a torch.nn.Module",)),
        ("fggb-of-an-embedder", lambda f: cf.FGGB(TinyEmbedder()), TypeError, ("FaceVerificationPair", "FGGB(FaceVerificationPair(embedder, threshold=...))")),
    ]
    return rows


def _rows_thresholds() -> List[Row]:
    scores, labels = np.array([-0.2, 0.1, 0.5, 0.9]), np.array([0, 0, 1, 1])
    return [
        ("pair-threshold-1.5", lambda f: tiny_pair(1.5), InvalidInputError, ("threshold=1.5", "outside [-1, 1]", "cosine-similarity threshold")),
        ("pair-threshold--1.01", lambda f: tiny_pair(-1.01), InvalidInputError, ("threshold=-1.01", "outside [-1, 1]")),
        ("pair-threshold-nan", lambda f: tiny_pair(float("nan")), InvalidInputError, ("threshold=nan", "[-1, 1]")),
        ("pair-threshold-string", lambda f: tiny_pair("0.3"), TypeError, ("threshold must be a float in [-1, 1]", "'0.3'")),
        ("pair-threshold-bool", lambda f: tiny_pair(True), TypeError, ("threshold must be a float",)),
        ("pair-threshold-missing", lambda f: cf.FaceVerificationPair(Returns(lambda e: e)), InvalidInputError, ("no verification_threshold", "threshold=...", "captum_fggb.calibration")),
        ("pair-threshold-numpy-allowed", lambda f: tiny_pair(np.float32(0.25)), None, ()),
        ("fggb-attribute-threshold-2", lambda f: cf.FGGB(tiny_pair()).attribute((img(), img()), threshold=2.0), InvalidInputError, ("threshold=2.0", "outside [-1, 1]")),
        ("fggb-combine-threshold--3", lambda f: cf.FGGB(tiny_pair()).combine(torch.rand(1, 12, *S), torch.rand(1, 12), torch.rand(1, 12), threshold=-3), InvalidInputError, ("threshold=-3", "outside [-1, 1]")),
        ("calibration-threshold-1.5", lambda f: calibration.evaluate_threshold(scores, labels, 1.5), InvalidInputError, ("threshold=1.5", "outside [-1, 1]", "reject every pair", "cosine-similarity threshold")),
        ("calibration-threshold--2", lambda f: calibration.evaluate_threshold(scores, labels, -2), InvalidInputError, ("threshold=-2.0", "accept every pair")),
        ("calibration-threshold-nan", lambda f: calibration.evaluate_threshold(scores, labels, float("nan")), InvalidInputError, ("threshold must be a finite number",)),
        ("calibration-threshold-string", lambda f: calibration.evaluate_threshold(scores, labels, "0.5"), TypeError, ("threshold must be a real number",)),
        ("calibration-reject-all-candidate-allowed", lambda f: calibration.evaluate_threshold([0.2, 1.0], [0, 1], np.nextafter(1.0, 2.0)), None, ()),
        ("calibration-non-cosine-scores-allowed", lambda f: calibration.evaluate_threshold([-3.0, 4.0, 9.0], [0, 1, 1], 5.0), None, ()),
        ("calibration-far-1.5", lambda f: calibration.threshold_at_far(scores, labels, 1.5), InvalidInputError, ("far must be a number in [0, 1]",)),
        ("load-checkpoint-threshold-2", lambda f: models.load_checkpoint(f.good_checkpoint, arch="mobilefacenet", threshold=2), InvalidInputError, ("threshold=2.0", "outside [-1, 1]")),
        ("builder-threshold-1.2", lambda f: models.mobilefacenet(threshold=1.2), InvalidInputError, ("threshold=1.2", "outside [-1, 1]")),
        ("sface-threshold-5", lambda f: models.sface(pretrained=False, threshold=5), InvalidInputError, ("threshold=5.0", "outside [-1, 1]")),
    ]


def _rows_call_contract() -> List[Row]:
    fggb = lambda: cf.FGGB(tiny_pair())  # noqa: E731
    rows: List[Row] = [
        ("fggb-map-unknown", lambda f: fggb().attribute((img(), img()), map="both"), InvalidInputError, ("map='both'", "'signed', 'similarity', 'dissimilarity'")),
        ("fggb-map-none", lambda f: fggb().attribute((img(), img()), map=None), InvalidInputError, ("map=None", "'similarity'")),
        ("fggb-map-capitalised", lambda f: fggb().attribute((img(), img()), map="Similarity"), InvalidInputError, ("map='Similarity'",)),
        ("fggb-no-reference", lambda f: fggb().attribute(img()), InvalidInputError, ("needs its reference", "additional_forward_args=(reference,)")),
        ("fggb-reference-twice", lambda f: fggb().attribute((img(), img()), additional_forward_args=(img(),)), InvalidInputError, ("drop additional_forward_args",)),
        ("fggb-three-inputs", lambda f: fggb().attribute((img(), img(), img())), InvalidInputError, ("a tuple of 3 items", "(probe, reference)")),
        ("fggb-extra-forward-args", lambda f: fggb().attribute(img(), additional_forward_args=(img(), 1)), InvalidInputError, ("exactly the reference images", "2 items")),
        ("fggb-reference-not-a-tensor", lambda f: fggb().attribute(img(), additional_forward_args=("ref.png",)), TypeError, ("(reference,)", "got str")),
        ("fggb-internal-batch-size-0", lambda f: fggb().attribute((img(), img()), internal_batch_size=0), InvalidInputError, ("internal_batch_size", "positive int")),
        ("fggb-smoothing-sigma-negative", lambda f: cf.FGGB(tiny_pair(), smoothing_sigma=-1), InvalidInputError, ("smoothing_sigma", "positive number of pixels")),
        ("models-unknown-name", lambda f: models.get("arcface"), InvalidInputError, ("unknown model 'arcface'", "available models", "sface")),
        ("samples-unknown-name", lambda f: samples.load_sample("einstein"), InvalidInputError, ("unknown sample 'einstein'", "macron_1")),
    ]
    if "strategy" in inspect.signature(cf.FGGB).parameters:  # FGGB's engine option
        rows.append(("fggb-unknown-strategy", lambda f: cf.FGGB(tiny_pair(), strategy="vmap"), InvalidInputError, ("strategy='vmap'", "'sequential'")))
    if hasattr(cf.FGGB, "attribute_pairs"):  # many pairs over one collection of images
        pairs_of = lambda images, pairs, **kw: fggb().attribute_pairs(images, pairs, **kw)  # noqa: E731
        rows += [
            ("fggb-pairs-index-out-of-range", lambda f: pairs_of(img(3), [(0, 3)]), InvalidInputError, ("index_pairs", "[0, 3)")),
            ("fggb-pairs-wrong-shape", lambda f: pairs_of(img(3), torch.zeros(2, 3, dtype=torch.long)), InvalidInputError, ("index_pairs must have shape (P, 2)",)),
            ("fggb-pairs-float-indices", lambda f: pairs_of(img(3), torch.zeros(2, 2)), InvalidInputError, ("integer tensor",)),
            ("fggb-pairs-empty", lambda f: pairs_of(img(3), torch.zeros(0, 2, dtype=torch.long)), InvalidInputError, ("index_pairs is empty",)),
            ("fggb-pairs-unknown-side", lambda f: pairs_of(img(3), [(0, 1)], side="left"), InvalidInputError, ("side='left'", "'both'")),
            ("fggb-pairs-uint8-images", lambda f: pairs_of((img(3) * 255).byte(), [(0, 1)]), InvalidInputError, ("integer dtype",)),
            ("fggb-pairs-mixed-sizes", lambda f: pairs_of([img()[0], img(size=(20, 20))[0]], [(0, 1)]), InvalidInputError, ("images",)),
            ("fggb-pairs-not-tensors", lambda f: pairs_of(["a.png", "b.png"], [(0, 1)]), TypeError, ("images[0] must be a torch.Tensor",)),
        ]
    return rows


# Bad inputs straight to each model's forward: (id, make(input_size), fragments).
_MODEL_INPUTS = [
    ("rank3", lambda s: torch.rand(3, *s), ("x must have shape (N, 3, H, W)", ".unsqueeze(0)")),
    ("grayscale", lambda s: torch.rand(1, 1, *s), ("3 colour channels", "grayscale")),
    ("rgba", lambda s: torch.rand(1, 4, *s), ("RGBA", "[:, :3]")),
    ("wrong-size", lambda s: torch.rand(1, 3, s[0] - 12, s[1] - 12), ("spatial size", "captum_fggb.align")),
    ("uint8", lambda s: torch.randint(0, 256, (1, 3, *s), dtype=torch.uint8), ("integer dtype torch.uint8", "x.float() / 255")),
    ("uint16-16-bit", lambda s: torch.full((1, 3, *s), 40000, dtype=torch.uint16), ("integer dtype torch.uint16",)),
    ("float64", lambda s: torch.rand(1, 3, *s, dtype=torch.float64), ("float64", "x.to(torch.float32)")),
    ("float-0-255", lambda s: torch.rand(1, 3, *s) * 255, ("0-255 image", "divide it by 255")),
    ("nan", lambda s: torch.full((1, 3, *s), float("nan")), ("NaN",)),
    ("empty", lambda s: torch.rand(0, 3, *s), ("empty batch",)),
]
_MODEL_NAMES = ("sface", "mobilefacenet", "iresnet18", "adaface_ir18", "dlib_resnet")


def _rows_models() -> List[Row]:
    rows: List[Row] = []
    for name in _MODEL_NAMES:
        for kind, make, frags in _MODEL_INPUTS:
            call = (lambda name, make: lambda f: model(name)(make(model(name).input_size)))(name, make)
            rows.append((f"model-{name}-{kind}", call, InvalidInputError, frags))
    rows.append(("model-sface-list-input", lambda f: model("sface")([img()]), TypeError, ("x must be a torch.Tensor",)))
    return rows


def _check_gray_crop(face: Any) -> None:
    assert face.image.shape == (3, 112, 112)
    assert float(face.image.std(0).max()) == 0.0  # replicated: R = G = B


def _rows_alignment() -> List[Row]:
    return [
        ("align-text-file", lambda f: align_face(f.text), InvalidInputError, ("notes.jpg", "cannot read", "JPEG, PNG")),
        ("align-corrupt-jpeg", lambda f: align_face(f.corrupt), InvalidInputError, ("corrupt.jpg", "cannot read")),
        ("align-truncated-jpeg", lambda f: align_face(f.truncated_jpeg), InvalidInputError, ("truncated.jpg", "cannot read")),
        ("align-truncated-png", lambda f: align_face(f.truncated_png), InvalidInputError, ("truncated.png", "truncated")),
        ("align-no-face", lambda f: align_face(f.no_face), NoFaceError, ("no face found in", "wall.png", "score_threshold")),
        ("align-missing-file", lambda f: align_face(f.missing), FileNotFoundError, ("missing.jpg", "not found")),
        ("align-float-numpy", lambda f: align_face(np.random.rand(50, 50, 3)), InvalidInputError, ("float64", "astype(np.uint8)")),
        ("align-float-tensor-0-255", lambda f: align_face(torch.rand(3, 50, 50) * 255), InvalidInputError, ("outside [0, 1]", "uint8 tensor")),
        ("align-batch-tensor", lambda f: align_face(torch.rand(2, 3, 50, 50)), InvalidInputError, ("pass one image", "align_faces")),
        ("align-5-channel-array", lambda f: align_face(np.zeros((50, 50, 5), np.uint8)), InvalidInputError, ("(H, W, 3) RGB",)),
        ("align-not-an-image", lambda f: align_face(3.5), TypeError, ("file path, a PIL image",)),
        ("align-bad-model-input", lambda f: align_face(f.no_face, model_input="vgg224"), InvalidInputError, ("model_input='vgg224'", "'arcface112'")),
        ("align-bad-score-threshold", lambda f: align_face(f.no_face, score_threshold=1.5), InvalidInputError, ("score_threshold=1.5", "(0, 1)")),
        ("align-faces-single-path", lambda f: align_faces(str(f.no_face)), TypeError, ("list of photos", "align_face")),
        ("align-faces-empty", lambda f: align_faces([]), InvalidInputError, ("images is empty",)),
        ("align-faces-names-the-bad-one", lambda f: align_faces([samples.photo_path("macron_1"), f.no_face]), NoFaceError, ("wall.png",)),
        # handled as documented: grayscale replicated, alpha dropped, 16-bit v -> round(v / 257)
        ("align-grayscale-file-allowed", lambda f: _check_gray_crop(align_face(f.save("gray.png", f.gray_photo))), None, ()),
        ("align-rgba-file-allowed", lambda f: _same_crop(f, lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)]), "rgba.png"), None, ()),
        ("align-16-bit-gray-file-allowed", lambda f: _check_16bit(f), None, ()),
    ]


def _same_crop(files: Files, convert: Callable[[np.ndarray], np.ndarray], name: str) -> None:
    rgb = np.asarray(Image.open(samples.photo_path("macron_1")).convert("RGB"))
    expected = align_face(rgb).image
    assert torch.equal(align_face(files.save(name, convert(rgb))).image, expected)


def _check_16bit(files: Files) -> None:
    gray8 = files.gray_photo
    path = files.save("gray16.png", gray8.astype(np.uint16) * 257)
    assert Image.open(path).mode.startswith("I")
    assert torch.equal(align_face(path).image, align_face(gray8).image)


def _check_loaded_16bit(files: Files) -> None:
    values = np.array([[0, 200, 40000, 65535]], dtype=np.uint16)
    loaded = samples.load_image(files.save("values16.png", values))
    assert loaded.shape == (3, 1, 4) and torch.equal(loaded[0], loaded[2])
    expected = torch.tensor([[0, 1, 156, 255]], dtype=torch.float32) / 255  # round(v / 257) / 255
    assert torch.equal(loaded[0], expected), loaded[0] * 255


def _check_loaded_rgba(files: Files) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    loaded = samples.load_image(files.save("rgba5x6.png", np.dstack([rgb, np.zeros((5, 6), np.uint8)])))
    assert torch.equal(loaded, torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)


def _rows_data() -> List[Row]:
    def csv_pairs(f: Files, rows: Sequence[Sequence[str]], **kw: Any) -> data.CSVPairs:
        return data.CSVPairs(f.csv("pairs.csv", rows), **kw)

    def lfw(f: Files, text: str) -> data.LFWPairs:
        (f.root / "pairs.txt").write_text(text)
        return data.LFWPairs(f.root, f.root / "pairs.txt", crops=None)

    good = lambda f: str(f.crop_112)  # noqa: E731
    return [
        ("load-image-text-file", lambda f: samples.load_image(f.text), InvalidInputError, ("notes.jpg", "cannot read")),
        ("load-image-corrupt", lambda f: samples.load_image(f.corrupt), InvalidInputError, ("corrupt.jpg", "cannot read")),
        ("load-image-truncated-jpeg", lambda f: samples.load_image(f.truncated_jpeg), InvalidInputError, ("truncated.jpg",)),
        ("load-image-truncated-png", lambda f: samples.load_image(f.truncated_png), InvalidInputError, ("truncated.png", "truncated")),
        ("load-image-missing", lambda f: samples.load_image(f.missing), FileNotFoundError, ("missing.jpg",)),
        ("load-image-16-bit-allowed", _check_loaded_16bit, None, ()),
        ("load-image-rgba-allowed", _check_loaded_rgba, None, ()),
        ("csv-missing-column", lambda f: data.CSVPairs(f.csv("nocol.csv", [["a.png", "b.png"]], header="path_a,path_b")), InvalidInputError, ("missing column(s) same", "path_a,path_b,same")),
        ("csv-bad-label", lambda f: csv_pairs(f, [[good(f), good(f), "maybe"]]), InvalidInputError, ("line 2", "same must be 1/0", "'maybe'")),
        ("csv-all-images-missing", lambda f: csv_pairs(f, [["x.png", "y.png", "1"]]), FileNotFoundError, ("x.png", "no pair is left")),
        ("csv-missing-file", lambda f: data.CSVPairs(f.root / "absent.csv"), FileNotFoundError, ("pairs CSV not found",)),
        ("csv-wrong-image-size", lambda f: csv_pairs(f, [[str(f.crop_100), good(f), "1"]], image_size=(112, 112))[0], InvalidInputError, ("crop100.png", "(100, 100)", "pre-aligned crops")),
        ("csv-corrupt-image", lambda f: csv_pairs(f, [[good(f), str(f.corrupt), "0"]])[0], InvalidInputError, ("corrupt.jpg", "cannot read")),
        ("lfw-not-a-pairs-file", lambda f: lfw(f, "hello world\n"), InvalidInputError, ("pairs.txt", "not an LFW pairs file")),
        ("lfw-wrong-line-count", lambda f: lfw(f, "1 2\nA 1 2\n"), InvalidInputError, ("header says 1 folds", "the file has 1")),
        ("lfw-missing-image-folder", lambda f: data.LFWPairs(f.root, f.text, crops="sface112"), FileNotFoundError, ("sface112", "crops=None")),
        ("lfw-bad-fold", lambda f: data.LFWPairs(f.root, _lfw_ok(f), folds=[3], crops=None), InvalidInputError, ("folds must be ints in 1..1",)),
        ("calibrate-one-class", lambda f: calibration.calibrate(tiny_pair(), _one_class(f)), InvalidInputError, ("only genuine", "impostor (0)")),
        ("calibrate-far-and-criterion", lambda f: calibration.calibrate(tiny_pair(), _one_class(f), far=0.1, criterion="eer"), InvalidInputError, ("criterion=", "far=")),
    ]


def _lfw_ok(f: Files) -> Path:
    path = f.root / "ok_pairs.txt"
    path.write_text("1 1\nA 1 2\nA 1 B 1\n")
    return path


class _OneClass(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return img()[0], img()[0], torch.tensor(True)


def _one_class(f: Files) -> torch.utils.data.Dataset:
    return _OneClass()


def _rows_model_files() -> List[Row]:
    def ran(f: Files) -> None:
        assert not f.marker.exists(), "the pickled code ran"

    def evil(f: Files) -> Any:
        try:
            return models.load_checkpoint(f.evil_checkpoint, arch="mobilefacenet")
        finally:
            ran(f)

    return [
        ("checkpoint-wrong-keys", lambda f: models.load_checkpoint(f.wrong_keys_checkpoint, arch="mobilefacenet"), ModelFileError, ("does not match arch='mobilefacenet'", "missing keys (1): conv_sep.layers.0.weight", "unexpected keys (1): conv_sep.layers.0.weights")),
        ("checkpoint-wrong-arch", lambda f: models.load_checkpoint(f.good_checkpoint, arch="iresnet18"), ModelFileError, ("does not match arch='iresnet18'", "missing keys")),
        ("checkpoint-pickle-runs-code", evil, ModelFileError, ("refused", "pickled Python code", "makedirs", "weights_only=True", "re-save")),
        ("checkpoint-sha256-mismatch", lambda f: models.load_checkpoint(f.good_checkpoint, arch="mobilefacenet", sha256="0" * 64), ModelFileError, ("SHA-256 of", "expected 0000", "corrupt or not the expected release")),
        ("checkpoint-not-a-checkpoint", lambda f: models.load_checkpoint(f.text, arch="mobilefacenet"), ModelFileError, ("notes.jpg", "not a readable PyTorch checkpoint")),
        ("checkpoint-truncated", lambda f: models.load_checkpoint(f.truncated_checkpoint, arch="mobilefacenet"), ModelFileError, ("truncated.pt", "not a readable PyTorch checkpoint")),
        ("checkpoint-missing", lambda f: models.load_checkpoint(f.missing, arch="mobilefacenet"), FileNotFoundError, ("missing.jpg", "not found")),
        ("checkpoint-unknown-arch", lambda f: models.load_checkpoint(f.good_checkpoint, arch="r50"), InvalidInputError, ("arch='r50'", "known architectures", "iresnet50")),
        ("sface-onnx-sha256-mismatch", lambda f: models.sface(onnx_path=f.text, sha256="0" * 64), ModelFileError, ("SHA-256 of", "notes.jpg", "expected 0000")),
        ("sface-onnx-without-sha256", lambda f: models.sface(onnx_path=f.text), ValueError, ("sha256= is required with onnx_path=",)),
        ("verified-path-sha256-mismatch", lambda f: verified_path(f.text, sha256_of(f.corrupt)), ModelFileError, ("SHA-256 of", "pip install --force-reinstall")),
        ("verified-path-missing", lambda f: verified_path(f.missing, "0" * 64), FileNotFoundError, ("model file not found",)),
        ("dlib-dat-sha256-mismatch", lambda f: _dlib(dat_path=f.text, sha256="0" * 64), ModelFileError, ("SHA-256 of", "notes.jpg")),
    ]


def _dlib(**kw: Any) -> nn.Module:
    return models.dlib_resnet(**kw)


try:
    from captum_fggb import methods as registry
except ImportError:  # the methods registry has not landed in this checkout
    registry = None
METHOD_NAMES = registry.available() if registry is not None else []


def _rows_methods() -> List[Row]:
    """The call contract of every registered method (FGGB's), on the tiny model."""
    rows: List[Row] = []
    for name in METHOD_NAMES:
        get = (lambda name: lambda embedder=None: registry.get(name, cf.FaceVerificationPair(embedder or TinyEmbedder(), threshold=0.2)))(name)
        rows += [
            (f"method-{name}-map-unknown", (lambda get: lambda f: get().attribute((img(), img()), map="both"))(get), InvalidInputError, ("map='both'", "'similarity'")),
            (f"method-{name}-batch-mismatch", (lambda get: lambda f: get().attribute((img(2), img(3))))(get), InvalidInputError, ("batch size 2", "reference has 3")),
            (f"method-{name}-probe-uint8", (lambda get: lambda f: get().attribute(((img() * 255).byte(), img())))(get), InvalidInputError, ("probe", "integer dtype")),
            (f"method-{name}-reference-0-255", (lambda get: lambda f: get().attribute(img(), additional_forward_args=(img() * 255,)))(get), InvalidInputError, ("reference", "divide it by 255")),
            (f"method-{name}-empty-batch", (lambda get: lambda f: get().attribute((torch.rand(0, 3, *S), img())))(get), InvalidInputError, ("probe", "empty batch")),
            (f"method-{name}-wrong-size", (lambda get: lambda f: get().attribute((img(size=(20, 20)), img())))(get), InvalidInputError, ("probe", "expects (16, 16)")),
            (f"method-{name}-no-reference", (lambda get: lambda f: get().attribute(img()))(get), InvalidInputError, ("needs its reference",)),
            (f"method-{name}-of-an-embedder", (lambda name: lambda f: registry.get(name, TinyEmbedder()))(name), TypeError, ("FaceVerificationPair",)),
        ]
        if name != "Random":  # Random never runs the model, so it cannot see the embedder's output
            for kind, make, frags in (_OUTPUTS[0], _OUTPUTS[5]):  # a tuple; a zero-norm row
                call = (lambda get, make: lambda f: get(Returns(make)).attribute((img(2), img(2))))(get, make)
                rows.append((f"method-{name}-embedder-{kind}", call, EmbedderOutputError, frags))
    if registry is not None:
        rows += [
            ("methods-unknown-name", lambda f: registry.get("gradcam", tiny_pair()), InvalidInputError, ("unknown method 'gradcam'", "available methods", "FGGB")),
            ("methods-unknown-option", lambda f: registry.get("FGGB", tiny_pair(), n_steps=4), InvalidInputError, ("FGGB has no option 'n_steps'", "its options")),
        ]
    return rows


ROWS: List[Row] = (
    _rows_images()
    + _rows_embedders()
    + _rows_thresholds()
    + _rows_call_contract()
    + _rows_models()
    + _rows_alignment()
    + _rows_data()
    + _rows_model_files()
    + _rows_methods()
)


def test_rows_are_unique_and_numerous() -> None:
    ids = [row[0] for row in ROWS] + [row[0] for row in CLI_ROWS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 25


@pytest.mark.parametrize("row", [pytest.param(row, id=row[0]) for row in ROWS])
def test_bad_input(row: Row, files: Files) -> None:
    _, call, error, fragments = row
    if error is None:  # a borderline input that must be accepted
        call(files)
        return
    with pytest.raises(Exception) as info:
        call(files)
    exc = info.value
    assert isinstance(exc, error), f"expected {error.__name__}, got {type(exc).__name__}: {exc}"
    assert isinstance(exc, ALLOWED) and not isinstance(exc, (RuntimeError, IndexError, KeyError))
    message = str(exc)
    assert "\n" not in message, message
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"message {message!r} lacks {missing}"


# ---------------------------------------------------------------- the CLI, in process
def _photo(name: str = "macron_1") -> str:
    return str(samples.photo_path(name))


CliRow = Tuple[str, Callable[[Files], List[str]], Tuple[str, ...]]
CLI_ROWS: List[CliRow] = [
    ("cli-threshold-1.5", lambda f: ["explain", _photo(), _photo("macron_2"), "--threshold", "1.5"], ("--threshold 1.5", "outside [-1, 1]")),
    ("cli-threshold--2", lambda f: ["explain", _photo(), _photo("macron_2"), "-t", "-2"], ("outside [-1, 1]",)),
    ("cli-threshold-nan", lambda f: ["explain", _photo(), _photo("macron_2"), "--threshold", "nan"], ("outside [-1, 1]",)),
    ("cli-threshold-not-a-number", lambda f: ["explain", _photo(), _photo("macron_2"), "--threshold", "abc"], ("--threshold 'abc' is not a number",)),
    ("cli-missing-photo", lambda f: ["explain", _photo(), str(f.missing)], ("missing.jpg", "not found")),
    ("cli-text-file", lambda f: ["explain", str(f.text), _photo()], ("notes.jpg", "cannot read")),
    ("cli-corrupt-photo", lambda f: ["explain", _photo(), str(f.corrupt)], ("corrupt.jpg", "cannot read")),
    ("cli-truncated-photo", lambda f: ["explain", str(f.truncated_jpeg), _photo()], ("truncated.jpg",)),
    ("cli-no-face", lambda f: ["explain", _photo(), str(f.no_face)], ("no face found", "wall.png")),
    ("cli-unknown-model", lambda f: ["explain", _photo(), _photo("macron_2"), "--model", "resnet9000"], ("unknown model 'resnet9000'",)),
    ("cli-checkpoint-without-arch", lambda f: ["explain", _photo(), _photo("macron_2"), "--model", str(f.good_checkpoint), "--threshold", "0.3"], ("--arch",)),
    ("cli-checkpoint-without-threshold", lambda f: ["explain", _photo(), _photo("macron_2"), "--model", str(f.good_checkpoint), "--arch", "mobilefacenet"], ("--threshold",)),
    ("cli-checkpoint-wrong-keys", lambda f: ["explain", _photo(), _photo("macron_2"), "--model", str(f.wrong_keys_checkpoint), "--arch", "mobilefacenet", "-t", "0.3"], ("missing keys", "conv_sep.layers.0.weight")),
    ("cli-checkpoint-pickle-runs-code", lambda f: ["explain", _photo(), _photo("macron_2"), "--model", str(f.evil_checkpoint), "--arch", "mobilefacenet", "-t", "0.3"], ("refused", "weights_only=True")),
    ("cli-demo-output-under-a-file", lambda f: ["demo", "--output", str(f.text / "demo.png")], ("--output", "notes.jpg", "cannot create the folder", "writable folder")),
    ("cli-explain-output-is-a-folder", lambda f: ["explain", _photo(), _photo("macron_2"), "--output", str(f.root)], ("--output", "is a folder", "figure.png")),
    ("cli-checkpoint-missing", lambda f: ["explain", _photo(), _photo("macron_2"), "--model", str(f.root / "nope.pth"), "--arch", "iresnet50"], ("checkpoint file not found",)),
]



def _evaluate(f: Files, *extra: str, pairs: Optional[Path] = None, root: Optional[Path] = None) -> List[str]:
    return ["evaluate", "--pairs", str(pairs or f.eval_csv), "--root", str(root or f.root), "--no-progress", *extra]


if importlib.util.find_spec("captum_fggb.cli.evaluate") is not None:  # the evaluate CLI has landed
    CLI_ROWS += [
        ("cli-evaluate-pairs-missing", lambda f: _evaluate(f, pairs=f.root / "absent.csv"), ("--pairs", "absent.csv", "does not exist")),
        ("cli-evaluate-root-missing", lambda f: _evaluate(f, root=f.root / "absent"), ("--root", "is not a folder")),
        ("cli-evaluate-threshold-1.5", lambda f: _evaluate(f, "--threshold", "1.5"), ("threshold=1.5", "outside [-1, 1]")),
        ("cli-evaluate-unknown-method", lambda f: _evaluate(f, "--methods", "Nope"), ("unknown method 'Nope'", "available methods")),
        ("cli-evaluate-unknown-device", lambda f: _evaluate(f, "--device", "tpu"), ("--device 'tpu'", "cpu, cuda or auto")),
        ("cli-evaluate-option-malformed", lambda f: _evaluate(f, "--option", "CorrRISE.n_masks"), ("--option", "METHOD.KEY=VALUE")),
        ("cli-evaluate-option-unknown", lambda f: _evaluate(f, "--methods", "CorrRISE", "--option", "CorrRISE.bogus=3"), ("CorrRISE has no option 'bogus'",)),
        ("cli-evaluate-steps-0", lambda f: _evaluate(f, "--steps", "0"), ("steps must be an int >= 2",)),
        ("cli-evaluate-folds-with-csv", lambda f: _evaluate(f, "--folds", "1"), ("--folds and --crops apply to LFW",)),
    ]


@pytest.mark.parametrize("row", [pytest.param(row, id=row[0]) for row in CLI_ROWS])
def test_cli_bad_input(row: CliRow, files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    _, make_argv, fragments = row
    output = files.root / "never.png"
    argv = make_argv(files)
    status = cli_main(argv + ([] if "--output" in argv else ["-o", str(output)]))
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"captum-fggb {argv[0]}: error: ") and "Traceback" not in err
    missing = [fragment for fragment in fragments if fragment not in lines[0]]
    assert not missing, f"{lines[0]!r} lacks {missing}"
    assert not output.exists() and not files.marker.exists()


def test_cli_subprocess_prints_one_line_and_exits_2(files: Files) -> None:
    """Through the real entry point (``python -m captum_fggb``): status 2, one line, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "captum_fggb", "explain", _photo(), str(files.text), "-o", str(files.root / "x.png")],
        capture_output=True, text=True, timeout=600, cwd=files.root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "notes.jpg" in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def test_cli_usage_errors_exit_2_and_name_the_argument(capsys: pytest.CaptureFixture[str]) -> None:
    """Command-line syntax errors are argparse's: the usage line, then one error line; status 2."""
    with pytest.raises(SystemExit) as info:
        cli_main(["explain", _photo()])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "captum-fggb explain: error: the following arguments are required: reference"
