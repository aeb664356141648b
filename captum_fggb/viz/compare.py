"""One figure comparing explanation methods on one pair: a row per method."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import torch
from captum.attr import Attribution
from matplotlib.figure import Figure

from ..errors import InvalidInputError
from ..methods import available
from ..methods import get as get_method
from ..pair import FaceVerificationPair
from ._draw import ROW_TITLES, draw_pair_row

__all__ = ["compare", "DEFAULT_METHODS"]

#: Methods drawn when ``methods`` is not given (every registered one but the random floor).
DEFAULT_METHODS = (
    "FGGB", "xSSAB", "CorrRISE", "Saliency", "IntegratedGradients", "InputXGradient",
    "GuidedBackprop", "Occlusion", "LIME", "KernelShap", "LayerGradCam",
)


def _method(
    entry: Union[str, Attribution], pair: FaceVerificationPair, options: Mapping[str, Mapping[str, Any]]
) -> Attribution:
    if isinstance(entry, str):
        return get_method(entry, pair, **dict(options.get(entry, {})))
    if isinstance(entry, Attribution) and callable(getattr(entry, "attribute", None)):
        return entry
    raise InvalidInputError(
        f"methods must hold method names ({', '.join(available())}) or built methods, got {entry!r}"
    )


def compare(
    pair: FaceVerificationPair,
    probe: torch.Tensor,
    reference: torch.Tensor,
    methods: Sequence[Union[str, Attribution]] = DEFAULT_METHODS,
    output: Optional[Union[str, Path]] = None,
    *,
    options: Optional[Mapping[str, Mapping[str, Any]]] = None,
    percentile: float = 99.5,
    dpi: int = 120,
    label: str = "",
) -> Figure:
    """Explain one pair with several methods and draw a row per method.

    Each row shows probe | S+ probe | S- probe | S+ reference | S- reference | reference, the four
    maps on one colour scale for that row (methods have different units, so scales are not
    shared between rows). The row title gives the method, its run time and the scale; the figure
    title gives the score and decision.

    Args:
        pair: the verification model.
        probe: ``(1, 3, H, W)`` RGB in ``[0, 1]``.
        reference: ``(1, 3, H, W)`` RGB in ``[0, 1]``.
        methods: method names of :func:`captum_fggb.methods.available`, or built methods (any
            object with FGGB's ``attribute`` contract). Default: :data:`~captum_fggb.viz.compare.DEFAULT_METHODS`.
        output: write the figure to this path (PNG by extension) when given.
        options: per-name constructor options, e.g. ``{"CorrRISE": {"n_masks": 200}}``.
        percentile: percentile of a row's map values mapped to full colour.
        dpi: resolution of the saved file.
        label: text put before the score in the figure title.

    Returns:
        The matplotlib ``Figure`` (no pyplot state is used, safe in headless runs).

    Raises:
        InvalidInputError: empty ``methods``, unknown name or option, or images that are not a
            single pair.
    """
    if not isinstance(pair, FaceVerificationPair):
        raise TypeError(f"pair must be a FaceVerificationPair, got {type(pair).__name__}")
    for name, images in (("probe", probe), ("reference", reference)):
        pair.check_images(images, name)
        if images.shape[0] != 1:
            raise InvalidInputError(f"{name} must be a single image (1, 3, H, W), got a batch of {images.shape[0]}")
    if isinstance(methods, str) or not methods:
        raise InvalidInputError("methods must be a non-empty list of method names or methods")
    built = [_method(entry, pair, options or {}) for entry in methods]
    with torch.no_grad():
        score = float(pair(probe, reference))
    decision = "Accept" if score >= pair.threshold else "Reject"
    fig = Figure(figsize=(2.1 * len(ROW_TITLES), 2.45 * len(built)), layout="constrained")
    subfigs = fig.subfigures(len(built), 1, squeeze=False)[:, 0]
    for subfig, method in zip(subfigs, built):
        name = method.get_name()
        start = time.perf_counter()
        signed_a, signed_b = method.attribute((probe, reference))
        seconds = time.perf_counter() - start
        vmax = draw_pair_row(subfig, probe, reference, signed_a[0], signed_b[0], percentile=percentile)
        subfig.suptitle(f"{name}   ({seconds:.1f} s, row scale 0–{vmax:.3g})", fontsize=10)
    prefix = f"{label}: " if label else ""
    fig.suptitle(f"{prefix}cosine {score:.3f} vs threshold {pair.threshold:.3f} → {decision}", fontsize=12)
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=dpi)
    return fig
