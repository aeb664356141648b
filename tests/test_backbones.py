"""The paper's backbones (ArcFace IResNet, AdaFace IR, MobileFaceNet) and ``load_checkpoint``.

``tests/data/official_keys.json`` holds ``{arch: {state-dict key: shape}}`` and the parameter
counts of the *official* model definitions. It was generated once, outside the repository, by
running the official code (read with the project's code-search tool, not committed here):

* ``iresnet18/34/50/100``: ``deepinsight/insightface``
  ``recognition/arcface_torch/backbones/iresnet.py`` @ ``d9cb10e6bda1``,
  ``iresnetNN(False, num_features=512)``;
* ``mobilefacenet``: ``recognition/arcface_torch/backbones/mobilefacenet.py`` @ ``c0b95cc66f2f``
  and @ ``1fe6356f6790`` (both versions give identical keys), ``get_mbf(False, 512)``;
* ``adaface_ir18/50/101``: ``mk-minchul/AdaFace`` ``net.py`` ``build_model('ir_18' | 'ir_50' |
  'ir_101')``, from the copy in the fork ``KELLO83/AdaFace`` ``net.py`` @ ``7c2d5553fab9`` (the
  index holds no ``net.py`` of the upstream repository itself; a second vendored copy of upstream
  ``net.py`` has the same ``Backbone`` and ``BasicBlockIR``). The official checkpoint loader
  (keep ``state_dict`` keys starting with ``model.``, drop the prefix) is upstream ``inference.py``.

For each, ``{k: list(v.shape) for k, v in model.state_dict().items()}`` and
``sum(p.numel() for p in model.parameters())`` were written with torch 2.14.1 (the
``_source`` entry of the file records the full commits). When our modules were loaded with the
official modules' weights, the official forward (on ``(x - 0.5) / 0.5``, BGR for AdaFace) and
ours agreed exactly; that check needs the upstream code and is not repeated here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from captum_fggb import FGGB, FaceVerificationPair, models, samples
from captum_fggb.errors import InvalidInputError, ModelFileError
from captum_fggb.models import load_checkpoint
from captum_fggb.models._files import sha256_of

OFFICIAL = json.loads((Path(__file__).parent / "data" / "official_keys.json").read_text())
ARCHS = list(OFFICIAL["keys"])
BACKBONES = ["iresnet18", "iresnet34", "iresnet50", "iresnet100", "mobilefacenet"]
BACKBONES += ["adaface_ir18", "adaface_ir50", "adaface_ir101"]


@pytest.fixture(scope="module")
def face() -> torch.Tensor:
    """A real aligned 112×112 face shipped with the package, ``(1, 3, 112, 112)``."""
    return samples.load_sample(samples.GENUINE_PAIR[0])


def trained_like(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every BatchNorm non-trivial running statistics, as a trained checkpoint has."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
    return model


def save(obj: object, path: Path) -> Path:
    torch.save(obj, path)
    return path


def test_official_fixture_covers_every_backbone() -> None:
    assert sorted(ARCHS) == sorted(BACKBONES)
    assert set(BACKBONES) < set(models.available())


@pytest.mark.parametrize("arch", BACKBONES)
def test_state_dict_keys_and_shapes_equal_official_layout(arch: str) -> None:
    with torch.device("meta"):  # structure only: no memory, no forward
        model = models.get(arch)
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == list(OFFICIAL["keys"][arch].items())  # same names, shapes and order
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL["param_counts"][arch]


@pytest.mark.parametrize("arch, published", [("iresnet50", 43.6e6), ("iresnet100", 65.2e6)])
def test_parameter_counts_match_published(arch: str, published: float) -> None:
    with torch.device("meta"):
        count = sum(p.numel() for p in models.get(arch).parameters())
    assert abs(count - published) < 0.05e6


def test_builders_are_typed_keyword_only_and_frozen() -> None:
    model = models.get("adaface_ir18", threshold=0.3)
    assert model.verification_threshold == 0.3 and model.input_size == (112, 112)
    assert model.embedding_dim == 512 and model.meta["arch"] == "adaface_ir18"
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert models.iresnet18().verification_threshold is None
    assert models.mobilefacenet(num_features=128).embedding_dim == 128
    with pytest.raises(TypeError):
        models.iresnet18(0.3)  # keyword-only
    with pytest.raises(InvalidInputError, match="threshold"):
        models.iresnet50(threshold=1.5)


def test_arcface_checkpoint_round_trip_gives_same_embeddings(tmp_path: Path, face: torch.Tensor) -> None:
    torch.manual_seed(7)
    source = trained_like(models.iresnet18(), seed=1)
    path = save(source.state_dict(), tmp_path / "backbone.pth")  # what arcface_torch saves
    loaded = load_checkpoint(path, arch="iresnet18", threshold=0.3)
    with torch.no_grad():
        expected, got = source(face), loaded(face)
    assert got.shape == (1, 512) and torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
    fresh = models.iresnet18().state_dict()  # the weights really came from the file
    assert not torch.equal(fresh["fc.weight"], loaded.state_dict()["fc.weight"])
    assert loaded.verification_threshold == 0.3 and loaded.meta["weights"] == str(path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_adaface_lightning_checkpoint_round_trip(tmp_path: Path, face: torch.Tensor) -> None:
    torch.manual_seed(8)
    source = trained_like(models.adaface_ir18(), seed=2)
    state = {"model." + k: v for k, v in source.state_dict().items()}
    state["head.kernel"] = torch.randn(512, 10)  # the training head, ignored as in inference.py
    ckpt = {
        "epoch": 25,
        "global_step": 1000,
        "pytorch-lightning_version": "1.8.6",
        "state_dict": state,
        "hyper_parameters": {"arch": "ir_18", "head": "adaface", "m": 0.4, "lr_milestones": [12, 20, 24]},
    }
    loaded = load_checkpoint(save(ckpt, tmp_path / "adaface_ir18.ckpt"), arch="adaface_ir18")
    with torch.no_grad():
        expected, got = source(face), loaded(face)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
    assert torch.allclose(got.norm(dim=1), torch.ones(1))  # unit embeddings, as officially
    # the state_dict alone (re-saved from the .ckpt) is accepted too
    again = load_checkpoint(save(state, tmp_path / "state.pt"), arch="adaface_ir18")
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), loaded.state_dict().values()))


def test_mobilefacenet_round_trip_and_optional_batchnorm_counters(tmp_path: Path, face: torch.Tensor) -> None:
    torch.manual_seed(9)
    source = trained_like(models.mobilefacenet(), seed=3)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    loaded = load_checkpoint(save(state, tmp_path / "mbf.pt"), arch="mobilefacenet")
    with torch.no_grad():
        torch.testing.assert_close(loaded(face), source(face), rtol=1e-6, atol=1e-6)


def test_adaface_flips_rgb_to_bgr_inside(face: torch.Tensor) -> None:
    model = models.adaface_ir18()
    bgr = face[:, [2, 1, 0]]
    with torch.no_grad():
        def raw(x: torch.Tensor) -> torch.Tensor:  # the official network on an official input
            return model.output_layer(model.body(model.input_layer((x - 0.5) / 0.5)))

        raw_bgr, raw_rgb = raw(bgr), raw(face)
        out, norm = model.embed_with_norm(face)
        # AdaFace's to_input: BGR, (x - 0.5) / 0.5; output: (unit embedding, feature norm)
        torch.testing.assert_close(out, F.normalize(raw_bgr, dim=1))
        torch.testing.assert_close(norm, raw_bgr.norm(dim=1, keepdim=True))
        torch.testing.assert_close(model(face), out)
        # swapping the input channels swaps the convention, and the swap matters
        torch.testing.assert_close(model(bgr), F.normalize(raw_rgb, dim=1))
        assert (out - model(bgr)).abs().max() > 1e-3
        # IResNet (arcface_torch) stays RGB: no flip
        arc = models.iresnet18()
        x = (face - 0.5) / 0.5
        trunk = arc.layer4(arc.layer3(arc.layer2(arc.layer1(arc.prelu(arc.bn1(arc.conv1(x)))))))
        expected = arc.features(arc.fc(arc.bn2(trunk).flatten(1)))
        torch.testing.assert_close(arc(face), expected)


def test_mismatched_keys_are_listed(tmp_path: Path) -> None:
    state = models.mobilefacenet().state_dict()
    state["conv_sep.layers.0.weights"] = state.pop("conv_sep.layers.0.weight")
    del state["features.layers.2.weight"]
    with pytest.raises(ModelFileError) as info:
        load_checkpoint(save(state, tmp_path / "bad.pt"), arch="mobilefacenet")
    message = str(info.value)
    assert "missing keys (2): conv_sep.layers.0.weight, features.layers.2.weight" in message
    assert "unexpected keys (1): conv_sep.layers.0.weights" in message


def test_wrong_arch_is_named_and_lists_are_truncated(tmp_path: Path) -> None:
    path = save(models.mobilefacenet().state_dict(), tmp_path / "mbf.pt")
    with pytest.raises(ModelFileError, match=r"\.\.\. and \d+ more") as info:
        load_checkpoint(path, arch="iresnet18")
    assert "the file matches arch='mobilefacenet'" in str(info.value)
    assert len(str(info.value)) < 2000


def test_shape_mismatch_and_ddp_prefix_are_explained(tmp_path: Path) -> None:
    small = models.mobilefacenet(num_features=128).state_dict()
    with pytest.raises(ModelFileError, match=r"features\.layers\.2\.weight \(128, 512\) \(model: \(512, 512\)\)"):
        load_checkpoint(save(small, tmp_path / "small.pt"), arch="mobilefacenet")
    ddp = {"module." + k: v for k, v in models.mobilefacenet().state_dict().items()}
    with pytest.raises(ModelFileError, match="DistributedDataParallel"):
        load_checkpoint(save(ddp, tmp_path / "ddp.pt"), arch="mobilefacenet")


def test_checkpoint_in_the_wrong_format_is_explained(tmp_path: Path) -> None:
    lightning = {"state_dict": {"head.kernel": torch.zeros(512, 3)}, "epoch": 1}
    with pytest.raises(ModelFileError, match="plain state dict"):
        load_checkpoint(save(lightning, tmp_path / "a.ckpt"), arch="iresnet18")
    with pytest.raises(ModelFileError, match="starts with 'model.'"):
        load_checkpoint(save(lightning, tmp_path / "b.ckpt"), arch="adaface_ir18")


class _RunsCode:
    """Pickles into a call of ``os.makedirs``: what a malicious checkpoint would do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (os.makedirs, (str(self.target),))


def test_pickle_with_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = save({"state_dict": {}, "payload": _RunsCode(marker)}, tmp_path / "evil.ckpt")
    with pytest.raises(ModelFileError, match="refused: it contains pickled Python code") as info:
        load_checkpoint(path, arch="adaface_ir18")
    assert "makedirs" in str(info.value) and "weights_only=True" in str(info.value)
    assert not marker.exists()


def test_unreadable_missing_and_unknown(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ModelFileError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(junk, arch="iresnet18")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt", arch="iresnet18")
    known = "known architectures: iresnet18.*iresnet50.*mobilefacenet.*adaface_ir101"
    with pytest.raises(InvalidInputError, match=known):
        load_checkpoint(junk, arch="r50")
    with pytest.raises(InvalidInputError, match="threshold"):
        load_checkpoint(junk, arch="iresnet18", threshold=-2)


def test_sha256_is_checked_before_reading(tmp_path: Path) -> None:
    path = save(models.mobilefacenet().state_dict(), tmp_path / "mbf.pt")
    digest = sha256_of(path)
    assert load_checkpoint(path, arch="mobilefacenet", sha256=digest).meta["sha256"] == digest
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_checkpoint(path, arch="mobilefacenet", sha256="0" * 64)


def test_fggb_runs_on_iresnet18(face: torch.Tensor) -> None:
    # A 4-d head keeps this fast (FGGB costs one backward pass per embedding dimension); the
    # network up to the head is the real IResNet-18.
    model = models.iresnet18(num_features=4)
    reference = samples.load_sample(samples.GENUINE_PAIR[1])
    pair = FaceVerificationPair(model, threshold=0.3)
    signed = FGGB(pair).attribute(face, additional_forward_args=(reference,))
    assert signed.shape == face.shape and torch.isfinite(signed).all() and signed.abs().sum() > 0
    assert torch.equal(signed[:, 0], signed[:, 1]) and torch.equal(signed[:, 0], signed[:, 2])
    assert not model.training and not any(p.requires_grad for p in model.parameters())
