"""Bad (and borderline) files for the bad-input matrix (``tests/test_bad_inputs.py``)."""

from __future__ import annotations

import csv
import io
import os
from functools import cached_property
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
import torch
from PIL import Image

from captum_fggb import models, samples

__all__ = ["Files"]


class _RunsCode:
    """Pickles into a call of ``os.makedirs``: what a malicious checkpoint would do on load."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (os.makedirs, (str(self.target),))


def _jpeg_bytes(shape: Tuple[int, int, int] = (64, 64, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


class Files:
    """Bad (and borderline) files, written once per module under a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _write(self, name: str, payload: bytes) -> Path:
        path = self.root / name
        path.write_bytes(payload)
        return path

    @cached_property
    def text(self) -> Path:  # a non-image file with an image suffix
        return self._write("notes.jpg", b"this is a text file, not a photo\n")

    @cached_property
    def corrupt(self) -> Path:  # random bytes behind a valid JPEG header
        return self._write("corrupt.jpg", _jpeg_bytes()[:20] + np.random.default_rng(1).bytes(4000))

    @cached_property
    def truncated_jpeg(self) -> Path:
        return self._write("truncated.jpg", _jpeg_bytes()[:300])

    @cached_property
    def truncated_png(self) -> Path:
        buffer = io.BytesIO()
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(buffer, "PNG")
        return self._write("truncated.png", buffer.getvalue()[: len(buffer.getvalue()) // 2])

    @cached_property
    def no_face(self) -> Path:
        path = self.root / "wall.png"
        Image.new("RGB", (320, 240), (120, 120, 120)).save(path)
        return path

    @cached_property
    def missing(self) -> Path:
        return self.root / "missing.jpg"

    @cached_property
    def gray_photo(self) -> np.ndarray:
        return np.asarray(Image.open(samples.photo_path("macron_1")).convert("L"))

    def save(self, name: str, array: np.ndarray) -> Path:
        path = self.root / name
        Image.fromarray(array).save(path)
        return path

    @cached_property
    def crop_112(self) -> Path:
        return samples.aligned_path("macron_1")

    @cached_property
    def crop_100(self) -> Path:
        return self.save("crop100.png", np.full((100, 100, 3), 100, np.uint8))

    @cached_property
    def evil_checkpoint(self) -> Path:
        path = self.root / "evil.pt"
        torch.save({"conv1.weight": torch.zeros(1), "payload": _RunsCode(self.marker)}, path)
        return path

    @cached_property
    def marker(self) -> Path:
        return self.root / "code-ran"

    @cached_property
    def wrong_keys_checkpoint(self) -> Path:
        state = models.mobilefacenet(num_features=8).state_dict()
        state["conv_sep.layers.0.weights"] = state.pop("conv_sep.layers.0.weight")
        path = self.root / "wrong_keys.pt"
        torch.save(state, path)
        return path

    @cached_property
    def good_checkpoint(self) -> Path:
        path = self.root / "mbf8.pt"
        torch.save(models.mobilefacenet(num_features=8).state_dict(), path)
        return path

    @cached_property
    def truncated_checkpoint(self) -> Path:
        payload = self.good_checkpoint.read_bytes()
        return self._write("truncated.pt", payload[: len(payload) // 3])

    @cached_property
    def eval_csv(self) -> Path:  # one genuine and one impostor pair of shipped 112x112 crops
        crop = lambda name: str(samples.aligned_path(name))  # noqa: E731
        return self.csv("eval.csv", [[crop("macron_1"), crop("macron_2"), "1"], [crop("macron_1"), crop("obama_1"), "0"]])

    def csv(self, name: str, rows: Sequence[Sequence[str]], header: str = "path_a,path_b,same") -> Path:
        path = self.root / name
        with open(path, "w", newline="") as handle:
            handle.write(header + "\n")
            csv.writer(handle).writerows(rows)
        return path
