"""captum-fggb: explain face-verification decisions with FGGB, inside Captum.

Public names::

    FaceVerificationPair   (probe, reference) -> cosine score, for any Captum method
    FGGB                   Feature-Guided Gradient Backpropagation (a captum GradientAttribution)
    XSSAB, CorrRISE        baselines with the same attribute() contract (captum_fggb.baselines)
    methods                every method by name: methods.available(), methods.get(name, pair)
    models                 pretrained face embedders (SFace, ...) and a registry
    samples                sample faces shipped with the package
    viz                    pair figures with a shared colour scale
    errors                 exception classes
"""

from __future__ import annotations

from . import errors, methods, models, samples, viz
from .baselines import CorrRISE, XSSAB
from .fggb import FGGB
from .pair import FaceVerificationPair

__version__ = "0.1.0"

__all__ = [
    "FGGB",
    "XSSAB",
    "CorrRISE",
    "FaceVerificationPair",
    "errors",
    "methods",
    "models",
    "samples",
    "viz",
    "__version__",
]
