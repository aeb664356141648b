"""Every explanation method of the package by name, with one ``attribute`` contract.

:func:`available` lists the names; :func:`get` builds a method for a
:class:`~captum_fggb.FaceVerificationPair`. Every method returned satisfies
:meth:`captum_fggb.FGGB.attribute`'s contract: ``attribute((probe, reference), map=...)``
returns a signed map per image, shaped like the inputs (positive supports Accept), and
``map="similarity"`` / ``"dissimilarity"`` select the positive part / the magnitude of the
negative part. Method settings are constructor options, passed to :func:`get`.

Examples::

    >>> import captum_fggb as cf
    >>> pair = cf.FaceVerificationPair(cf.models.sface())
    >>> cf.methods.available()
    ['FGGB', 'xSSAB', 'CorrRISE', 'Saliency', ...]
    >>> ig = cf.methods.get("IntegratedGradients", pair, n_steps=32)
    >>> sim_a, sim_b = ig.attribute((probe, reference), map="similarity")
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List

from captum.attr import Attribution

from .baselines import (
    CorrRISE,
    PairGuidedBackprop,
    PairInputXGradient,
    PairIntegratedGradients,
    PairKernelShap,
    PairLayerGradCam,
    PairLime,
    PairOcclusion,
    PairSaliency,
    RandomMaps,
    XSSAB,
)
from .errors import InvalidInputError
from .fggb import FGGB
from .pair import FaceVerificationPair

__all__ = ["available", "get", "options", "METHODS"]

#: Name → class (each built as ``cls(pair, **options)``), in display order.
METHODS: Dict[str, Callable[..., Attribution]] = {
    "FGGB": FGGB,
    "xSSAB": XSSAB,
    "CorrRISE": CorrRISE,
    "Saliency": PairSaliency,
    "IntegratedGradients": PairIntegratedGradients,
    "InputXGradient": PairInputXGradient,
    "GuidedBackprop": PairGuidedBackprop,
    "Occlusion": PairOcclusion,
    "LIME": PairLime,
    "KernelShap": PairKernelShap,
    "LayerGradCam": PairLayerGradCam,
    "Random": RandomMaps,
}


def available() -> List[str]:
    """Names accepted by :func:`get`, in display order (FGGB first, Random last)."""
    return list(METHODS)


def options(name: str) -> List[str]:
    """The option names :func:`get` accepts for method ``name``."""
    params = inspect.signature(METHODS[_check_name(name)]).parameters
    return [p for p in list(params)[1:] if params[p].kind is not inspect.Parameter.VAR_KEYWORD]


def _check_name(name: object) -> str:
    if isinstance(name, str) and name in METHODS:
        return name
    hint = ""
    if isinstance(name, str):
        close = [m for m in METHODS if m.lower() == name.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidInputError(f"unknown method {name!r}{hint}; available methods: {', '.join(METHODS)}")


def get(name: str, pair: FaceVerificationPair, **method_options: Any) -> Attribution:
    """Build the method ``name`` for ``pair``.

    Args:
        name: one of :func:`available` (exact spelling, e.g. ``"xSSAB"``).
        pair: the verification model to explain.
        **method_options: constructor options of that method (see :func:`options`), e.g.
            ``n_masks=100`` for CorrRISE or ``n_steps=16`` for IntegratedGradients.

    Returns:
        A ``captum.attr.Attribution`` whose ``attribute`` has FGGB's contract.

    Raises:
        InvalidInputError: unknown name (the message lists the names) or unknown option (the
            message lists the method's options).
    """
    name = _check_name(name)
    accepted = options(name)
    unknown = sorted(set(method_options) - set(accepted))
    if unknown:
        raise InvalidInputError(
            f"{name} has no option {', '.join(map(repr, unknown))}; its options: {', '.join(accepted) or 'none'}"
        )
    return METHODS[name](pair, **method_options)
