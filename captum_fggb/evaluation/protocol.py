"""The parameters of the verification Deletion/Insertion game, validated and recorded.

Every choice the protocol makes is a field of :class:`Protocol`, and :meth:`Protocol.to_dict`
writes all of them (plus the rules that are fixed by the implementation) into the results, so a
JSON file says exactly how its numbers were made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

from ..errors import InvalidInputError

__all__ = ["Protocol", "REPLACEMENTS", "SIDES", "SUBSETS", "DEFAULT_SUBSETS", "blur_kernel_size"]

#: Values of ``replacement``: what a deleted pixel becomes (and the insertion start canvas).
REPLACEMENTS: Tuple[str, ...] = ("black", "mean", "blur")
#: Values of ``side``: which image of a pair is perturbed.
SIDES: Tuple[str, ...] = ("probe", "both")
#: Pair subsets a map can be evaluated on.
SUBSETS: Tuple[str, ...] = ("genuine", "impostor", "all")
#: Similarity maps explain Accept (genuine pairs), dissimilarity maps explain Reject (impostors).
DEFAULT_SUBSETS: Dict[str, str] = {"similarity": "genuine", "dissimilarity": "impostor"}

#: Fixed rules, written into every result for the record.
RULES: Dict[str, str] = {
    "accept": "score >= threshold (cosine similarity of the two embeddings)",
    "correct": "a genuine pair is correct when accepted, an impostor pair when rejected",
    "accuracy": "percentage of correct pairs within the map's subset, at each step",
    "auc": "normalised trapezoid area under the accuracy curve, in % "
    "(numpy.trapezoid(curve, fractions) / (fractions[-1] - fractions[0]))",
    "ranking": "pixels ordered by the map value (mean over colour channels) in decreasing order; "
    "ties keep raster order (torch.argsort(descending=True, stable=True) over the flattened "
    "H*W map), so a constant map perturbs row by row from the top-left pixel",
    "pixels_per_step": "k = floor(fraction * H * W + 0.5) top-ranked pixels (all colour channels)",
    "deletion": "the top-k pixels of the explained image are replaced by the replacement canvas",
    "insertion": "the replacement canvas with the top-k pixels of the explained image restored",
    "forward": "torch.inference_mode(), the embedder borrowed in eval mode, channels-last input batches",
}


def blur_kernel_size(sigma: float) -> int:
    """Odd Gaussian kernel size covering +-3 sigma: ``2 * ceil(3 * sigma) + 1`` pixels."""
    return 2 * math.ceil(3.0 * sigma) + 1


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class Protocol:
    """Settings of the Deletion/Insertion game.

    Attributes:
        steps: points on the perturbation axis, evenly spaced from 0 % to 100 % of the pixels
            (21 gives 0, 5, ..., 100 %).
        replacement: ``"black"`` (0 in ``[0, 1]`` space), ``"mean"`` (the image's mean colour,
            per channel) or ``"blur"`` (the image blurred by
            ``torchvision.transforms.functional.gaussian_blur`` with ``blur_sigma`` and a
            kernel of ``2 * ceil(3 * blur_sigma) + 1`` pixels, reflect padding).
        blur_sigma: standard deviation in pixels of the ``"blur"`` replacement.
        side: ``"probe"`` perturbs the first image of each pair and keeps the reference clean;
            ``"both"`` perturbs both images, each ranked by its own map. With ``"both"`` and the
            black replacement, both images end as the same canvas, so at 100 % Deletion and 0 %
            Insertion every pair scores cosine 1 and is accepted.
        subsets: map name -> pair subset (``"genuine"``, ``"impostor"`` or ``"all"``) it is
            evaluated on. Default: similarity on genuine, dissimilarity on impostor pairs.
        seed: base seed; each block of pairs reseeds torch, numpy and ``random`` with a seed
            derived from it, the map and the block index, so random maps do not depend on how
            the pairs are sharded.
        block_size: pairs per unit of work (explained together, and the unit that processes
            are given under ``torchrun``). Results depend on it only through floating-point
            batching effects, never on the number of processes.
        batch_size: perturbed images per model forward.
    """

    steps: int = 21
    replacement: str = "black"
    blur_sigma: float = 8.0
    side: str = "probe"
    subsets: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SUBSETS))
    seed: int = 0
    block_size: int = 16
    batch_size: int = 128

    def __post_init__(self) -> None:
        _positive_int(self.steps, "steps", minimum=2)
        _positive_int(self.block_size, "block_size")
        _positive_int(self.batch_size, "batch_size")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidInputError(f"seed must be a non-negative int, got {self.seed!r}")
        if self.replacement not in REPLACEMENTS:
            raise InvalidInputError(f"replacement={self.replacement!r} is not one of {', '.join(REPLACEMENTS)}")
        if self.side not in SIDES:
            raise InvalidInputError(f"side={self.side!r} is not one of {', '.join(SIDES)}")
        sigma = self.blur_sigma
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0 or not math.isfinite(sigma):
            raise InvalidInputError(f"blur_sigma must be a positive number of pixels, got {sigma!r}")
        if not isinstance(self.subsets, Mapping) or not self.subsets:
            raise InvalidInputError(f"subsets must map map names to pair subsets, got {self.subsets!r}")
        for map_name, subset in self.subsets.items():
            if map_name not in DEFAULT_SUBSETS:
                raise InvalidInputError(
                    f"subsets has map {map_name!r}; evaluated maps are 'similarity' and 'dissimilarity'"
                )
            if subset not in SUBSETS:
                raise InvalidInputError(f"subsets[{map_name!r}]={subset!r} is not one of {', '.join(SUBSETS)}")
        object.__setattr__(self, "subsets", dict(self.subsets))
        object.__setattr__(self, "blur_sigma", float(sigma))

    @property
    def fractions(self) -> List[float]:
        """The perturbed fractions of the pixels, ``[0, 1/(steps-1), ..., 1]``."""
        return [i / (self.steps - 1) for i in range(self.steps)]

    def pixel_counts(self, n_pixels: int) -> List[int]:
        """Top-ranked pixels perturbed at each step for an image of ``n_pixels`` pixels."""
        return [math.floor(f * n_pixels + 0.5) for f in self.fractions]

    def to_dict(self) -> Dict[str, Any]:
        """Every parameter and fixed rule, JSON-ready."""
        out: Dict[str, Any] = {
            "steps": self.steps,
            "fractions_percent": [100.0 * f for f in self.fractions],
            "replacement": self.replacement,
            "side": self.side,
            "subsets": dict(self.subsets),
            "seed": self.seed,
            "block_size": self.block_size,
            "batch_size": self.batch_size,
        }
        if self.replacement == "blur":
            out["blur_sigma"] = self.blur_sigma
            out["blur_kernel_size"] = blur_kernel_size(self.blur_sigma)
        out["rules"] = dict(RULES)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Protocol":
        """Inverse of :meth:`to_dict` (derived fields and rules are ignored)."""
        keys = ("steps", "replacement", "side", "subsets", "seed", "block_size", "batch_size", "blur_sigma")
        return cls(**{k: data[k] for k in keys if k in data})
