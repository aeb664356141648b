"""captum-fggb: explain face-verification decisions with FGGB, inside Captum.

Public names::

    FaceVerificationPair   (probe, reference) -> cosine score, for any Captum method
    FGGB                   Feature-Guided Gradient Backpropagation (a captum GradientAttribution)
    align                  face detection + alignment of photos (align_face, align_faces)
    models                 pretrained face embedders (SFace, ...) and a registry
    samples                sample faces shipped with the package
    viz                    pair figures with a shared colour scale
    errors                 exception classes
"""

from __future__ import annotations

from . import align, errors, models, samples, viz
from .fggb import FGGB
from .pair import FaceVerificationPair

__version__ = "0.1.0"

__all__ = ["FGGB", "FaceVerificationPair", "align", "errors", "models", "samples", "viz", "__version__"]
