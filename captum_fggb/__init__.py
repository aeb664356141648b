"""captum-fggb: explain face-verification decisions with FGGB, inside Captum.

Public names::

    FaceVerificationPair   (probe, reference) -> cosine score, for any Captum method
    FGGB                   Feature-Guided Gradient Backpropagation (a captum GradientAttribution)
    XSSAB, CorrRISE        baselines with the same attribute() contract (captum_fggb.baselines)
    methods                every method by name: methods.available(), methods.get(name, pair)
    align                  face detection + alignment of photos (align_face, align_faces)
    models                 pretrained face embedders (SFace, ...) and a registry
    calibration            decision thresholds (EER, best accuracy, target FAR) from labelled pairs
    data                   pair datasets: LFW pairs.txt, CSV files
    samples                sample faces shipped with the package
    viz                    pair figures with a shared colour scale
    evaluation             the verification Deletion/Insertion game (API behind ``captum-fggb evaluate``)
    errors                 exception classes
"""

from __future__ import annotations

from . import errors, models, samples, viz
from . import calibration, data
from . import align
from . import methods
from .baselines import CorrRISE, XSSAB
from . import evaluation
from .fggb import FGGB
from .pair import FaceVerificationPair

__version__ = "0.1.0"

__all__ = ["FGGB", "FaceVerificationPair", "errors", "models", "samples", "viz", "__version__"]
__all__ += ["calibration", "data"]
__all__ += ["align"]
__all__ += ["XSSAB", "CorrRISE", "methods"]
__all__ += ["evaluation"]
