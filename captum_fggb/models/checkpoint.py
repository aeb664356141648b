"""Load users' own checkpoints of the paper's backbones, as the official repositories publish them.

* ``arcface_torch`` (``iresnet18/34/50/100``, ``mobilefacenet``): the ``backbone.pth`` /
  ``.pt`` file is a plain state dict (parameter name → tensor) of the backbone.
* AdaFace (``adaface_ir18/50/101``): the ``.ckpt`` file is a PyTorch Lightning checkpoint, a dict
  whose ``state_dict`` holds the backbone under the prefix ``model.`` next to the training head
  (``head.kernel``). As in AdaFace's ``inference.py``, the ``model.`` entries are kept (prefix
  removed) and every other entry is ignored. The ``state_dict`` alone, re-saved, is also accepted.

Files are read with ``torch.load(weights_only=True)``: a file whose pickle refers to Python code
or classes is refused, never executed. Keys are matched strictly; a mismatch raises
:class:`~captum_fggb.errors.ModelFileError` listing the missing and unexpected keys.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from .._checks import check_threshold
from ..errors import InvalidInputError, ModelFileError
from ._backbone import FaceBackbone
from ._files import verified_path
from .adaface import adaface_ir18, adaface_ir50, adaface_ir101
from .iresnet import iresnet18, iresnet34, iresnet50, iresnet100
from .mobilefacenet import mobilefacenet

__all__ = ["load_checkpoint", "CHECKPOINT_ARCHS"]

_ARCFACE, _ADAFACE = "arcface_torch", "adaface"

#: arch name → (builder, checkpoint format).
CHECKPOINT_ARCHS: Dict[str, Tuple[Callable[..., FaceBackbone], str]] = {
    "iresnet18": (iresnet18, _ARCFACE),
    "iresnet34": (iresnet34, _ARCFACE),
    "iresnet50": (iresnet50, _ARCFACE),
    "iresnet100": (iresnet100, _ARCFACE),
    "mobilefacenet": (mobilefacenet, _ARCFACE),
    "adaface_ir18": (adaface_ir18, _ADAFACE),
    "adaface_ir50": (adaface_ir50, _ADAFACE),
    "adaface_ir101": (adaface_ir101, _ADAFACE),
}
_SHOWN = 8
_TRACKED = ".num_batches_tracked"


def _listing(keys: List[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f", ... and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")


def _read(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only load failed" not in str(exc).lower():
            raise ModelFileError(f"{path} is not a readable PyTorch checkpoint ({exc})") from None
        try:
            found = ", ".join(torch.serialization.get_unsafe_globals_in_checkpoint(path)) or "unknown"
        except Exception:  # listing is best effort; the refusal stands either way
            found = "unknown"
        raise ModelFileError(
            f"{path} was refused: it contains pickled Python code or classes ({found}), not only "
            "tensors, and captum-fggb loads model files with torch.load(weights_only=True) so that "
            "a model file can never run code. If you trust the file, re-save its tensors once with "
            "your own torch: obj = torch.load(path, weights_only=False); torch.save(obj['state_dict'] "
            "if 'state_dict' in obj else obj, 'clean.pt'); then load 'clean.pt'"
        ) from None
    except Exception as exc:  # any other failure of the (safe) unpickler: not a checkpoint
        raise ModelFileError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None


def _tensor_dict(obj: object, what: str, path: Path) -> Dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        raise ModelFileError(f"{path}: expected {what}, got a {type(obj).__name__}")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelFileError(f"{path}: expected {what}, but these entries are not name → tensor: {_listing(bad)}")
    return dict(obj)


def _state_dict(obj: object, fmt: str, path: Path) -> Dict[str, torch.Tensor]:
    if fmt == _ARCFACE:
        return _tensor_dict(obj, "a plain state dict (name → tensor) as arcface_torch saves backbone.pth", path)
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    entries = _tensor_dict(obj, "an AdaFace Lightning checkpoint (a dict with 'state_dict') or its state_dict", path)
    return {k[len("model."):]: v for k, v in entries.items() if k.startswith("model.")}


def _layout(arch: str) -> Dict[str, Tuple[int, ...]]:
    """Key → shape of ``arch``'s state dict, built on the meta device (no memory, fast)."""
    with torch.device("meta"):
        model = CHECKPOINT_ARCHS[arch][0]()
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _check_keys(state: Dict[str, torch.Tensor], model: nn.Module, arch: str, fmt: str, path: Path) -> None:
    expected = model.state_dict()
    given = {k: tuple(v.shape) for k, v in state.items() if not k.endswith(_TRACKED)}
    count = len(state)
    for key in expected:  # BatchNorm counters are optional, as in torch's own loader
        if key.endswith(_TRACKED) and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} (model: {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if not (missing or unexpected or wrong):
        return
    matches = [
        name
        for name, (_, f) in CHECKPOINT_ARCHS.items()
        if f == fmt and name != arch and {k: s for k, s in _layout(name).items() if not k.endswith(_TRACKED)} == given
    ]
    parts = [f"{path} does not match arch={arch!r} ({count} entries in the file, {len(expected)} expected)"]
    if missing:
        parts.append(f"missing keys ({len(missing)}): {_listing(missing)}")
    if unexpected:
        parts.append(f"unexpected keys ({len(unexpected)}): {_listing(unexpected)}")
    if wrong:
        parts.append(f"shape mismatches ({len(wrong)}): {_listing(wrong)}")
    if matches:
        parts.append(f"the file matches arch={matches[0]!r}")
    elif fmt == _ADAFACE and not count:
        parts.append("no key of the checkpoint's state_dict starts with 'model.' (the AdaFace backbone prefix)")
    elif unexpected and all(k.startswith("module.") for k in unexpected):
        parts.append("every key starts with 'module.': the file was saved from a DistributedDataParallel wrapper; "
                     "save backbone.module.state_dict() instead, as arcface_torch does")
    raise ModelFileError("; ".join(parts))


def load_checkpoint(
    path: Union[str, Path], *, arch: str, threshold: Optional[float] = None, sha256: Optional[str] = None
) -> FaceBackbone:
    """Build ``arch`` and load an official checkpoint file into it.

    Args:
        path: an ``arcface_torch`` state-dict file (``backbone.pth``, ``.pt``) for ``iresnet*``
            and ``mobilefacenet``, or an AdaFace ``.ckpt`` for ``adaface_ir*``.
        arch: one of ``iresnet18``, ``iresnet34``, ``iresnet50``, ``iresnet100``,
            ``mobilefacenet``, ``adaface_ir18``, ``adaface_ir50``, ``adaface_ir101``.
        threshold: cosine decision threshold stored as ``verification_threshold``; it depends
            on the checkpoint, so calibrate it (``captum_fggb.calibration``) when unknown.
        sha256: expected SHA-256 hex digest of the file, checked before it is read.

    Returns:
        The model, eval mode, frozen: ``(N, 3, 112, 112)`` RGB in ``[0, 1]`` → ``(N, 512)``;
        ``meta`` records the file, its digest (when given), the arch and the format.

    Raises:
        InvalidInputError: unknown ``arch`` (the message lists the known ones) or a threshold
            outside ``[-1, 1]``.
        FileNotFoundError: ``path`` does not exist.
        ModelFileError: wrong SHA-256; not a PyTorch checkpoint; a pickle that refers to code
            (refused); keys or shapes that do not match ``arch`` (missing and unexpected keys
            are listed).
    """
    if arch not in CHECKPOINT_ARCHS:
        raise InvalidInputError(f"unknown arch={arch!r}; known architectures: {', '.join(CHECKPOINT_ARCHS)}")
    builder, fmt = CHECKPOINT_ARCHS[arch]
    if threshold is not None:
        threshold = check_threshold(threshold, "threshold")
    path = Path(path)
    if sha256 is not None:
        verified_path(path, sha256)
    elif not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = _state_dict(_read(path), fmt, path)
    model = builder(threshold=threshold)
    _check_keys(state, model, arch, fmt, path)
    model.load_state_dict(state, strict=True)
    model.meta.update({"weights": str(path), "sha256": sha256, "format": fmt})
    return model
