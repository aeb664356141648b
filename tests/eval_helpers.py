"""Synthetic models, data and maps for the Deletion/Insertion tests (the right answer is known).

``RegionEmbedder`` looks only at a 4x4 region of a 16x16 image: its embedding is a fixed linear
map of the region's pixels (rows orthogonal to the all-ones vector, so images only differ by
their region content) plus a constant last coordinate, so a blank region gives an embedding
orthogonal to every other direction but that constant. Two images with the same region content
have cosine 1; deleting the region drives the cosine towards 0.
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional, Tuple

import torch
from torch import nn

from captum_fggb import FaceVerificationPair

SIZE = 16
REGION = (slice(6, 10), slice(6, 10))  # rows, columns: 16 of 256 pixels (6.25 %)
THRESHOLD = 0.5


class RegionEmbedder(nn.Module):
    """``(N, 3, 16, 16)`` -> ``(N, 8)``: a linear function of the 4x4 region only."""

    input_size = (SIZE, SIZE)
    verification_threshold = THRESHOLD

    def __init__(self, seed: int = 0, dim: int = 8) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        weight = torch.randn(dim - 1, 3 * 16, generator=g)
        self.proj = nn.Linear(3 * 16, dim - 1, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(weight - weight.mean(dim=1, keepdim=True))
        self.register_buffer("constant", torch.tensor([0.05]))
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        region = x[:, :, REGION[0], REGION[1]].flatten(1)
        return torch.cat([self.proj(region), self.constant.expand(x.shape[0], 1)], dim=1)


def region_mask() -> torch.Tensor:
    """``(1, 3, 16, 16)`` float: 1 inside the region, 0 outside."""
    mask = torch.zeros(1, 3, SIZE, SIZE)
    mask[:, :, REGION[0], REGION[1]] = 1.0
    return mask


class SyntheticPairs:
    """Map-style pairs over identities that differ only inside the region.

    Image ``(i, k)`` (identity ``i``, photo ``k``) has identity ``i``'s region content and its own
    background noise. Genuine pairs are ``((i, 0), (i, 1))`` (and ``((i, 0), (i, 2))`` when
    ``shared``), impostor pairs ``((i, 0), (j, 1))`` with a cosine below the threshold. Exposes
    ``pairs[i] = (path_a, path_b, same)`` like the package's datasets (unless ``metadata=False``).
    """

    def __init__(self, n_genuine: int = 8, n_impostor: int = 8, seed: int = 0, shared: bool = False,
                 metadata: bool = True) -> None:
        g = torch.Generator().manual_seed(seed)
        model = RegionEmbedder()
        n_ids = max(n_genuine, n_impostor) + 2
        content = torch.rand(n_ids, 3, 4, 4, generator=g)
        self.images = {}
        for i in range(n_ids):
            for k in range(3):
                image = torch.rand(3, SIZE, SIZE, generator=g)
                image[:, REGION[0], REGION[1]] = content[i]
                self.images[f"id{i}/{k}.png"] = image
        items: List[Tuple[str, str, bool]] = []
        for i in range(n_genuine):
            items.append((f"id{i}/0.png", f"id{i}/1.png", True))
            if shared:
                items.append((f"id{i}/0.png", f"id{i}/2.png", True))
        found, j = 0, 0
        while found < n_impostor:
            a, b = f"id{j % n_ids}/0.png", f"id{(j + 1 + j // n_ids) % n_ids}/1.png"
            j += 1
            if a.split("/")[0] == b.split("/")[0]:
                continue
            pair = FaceVerificationPair(model)
            with torch.no_grad():
                score = float(pair(self.images[a][None], self.images[b][None]))
            if score < THRESHOLD:
                items.append((a, b, False))
                found += 1
        # interleave like a file with genuine then impostor blocks
        self._items = items
        if metadata:
            self.pairs = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int):
        a, b, same = self._items[index]
        return self.images[a], self.images[b], same


class FixedMap:
    """A 'method' returning the same map for every probe (and reference)."""

    def __init__(self, pair: FaceVerificationPair, template: torch.Tensor, name: str) -> None:
        self.pair, self.template, self.name = pair, template, name

    def get_name(self) -> str:
        return self.name

    def attribute(self, inputs, additional_forward_args=None, map="signed"):
        if isinstance(inputs, tuple):
            return tuple(self.template.expand_as(x).clone() for x in inputs)
        return self.template.expand_as(inputs).clone()


class RandomMap(FixedMap):
    """Uniform noise from torch's global RNG (the evaluation seeds it per block)."""

    def __init__(self, pair: FaceVerificationPair) -> None:
        super().__init__(pair, torch.zeros(1), "Random")

    def attribute(self, inputs, additional_forward_args=None, map="signed"):
        def noise(x: torch.Tensor) -> torch.Tensor:
            return torch.rand(x.shape[0], 1, x.shape[2], x.shape[3]).expand(-1, 3, -1, -1).clone()

        if isinstance(inputs, tuple):
            return tuple(noise(x) for x in inputs)
        return noise(inputs)


def run_script(output_dir: str) -> None:  # used by the torchrun test
    """Evaluate FGGB and a random map on synthetic pairs, perturbing the probe, then both sides;
    rank 0 writes ``probe.json`` and ``both.json`` into ``output_dir``."""
    import captum_fggb as cf
    from captum_fggb.evaluation import DeletionInsertion
    from captum_fggb.evaluation.distributed import init_from_env, shutdown

    world = init_from_env(torch.device("cpu"))
    pair = FaceVerificationPair(RegionEmbedder())
    data = SyntheticPairs(n_genuine=7, n_impostor=6, shared=True)
    for side in ("probe", "both"):
        game = DeletionInsertion(pair, side=side, block_size=3, batch_size=50, model_name="region")
        results = game.evaluate([cf.FGGB(pair), RandomMap(pair)], data, include_random=False)
        if world.is_main:
            results.to_json(f"{output_dir}/{side}.json")
    shutdown()


if __name__ == "__main__":
    run_script(sys.argv[1])
