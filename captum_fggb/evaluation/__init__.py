"""Quantitative evaluation: the verification Deletion/Insertion game.

Public names::

    DeletionInsertion   play Deletion and Insertion for any method on a pair dataset
    Protocol            the game's parameters (all recorded in the results)
    Results             per-pair scores, accuracy curves, AUCs; JSON, table, plot
    MapResult, MethodResult
    strip_timing        a results dict without wall-time fields (for comparisons)
"""

from __future__ import annotations

from .curves import accuracy_curve, normalized_auc
from .protocol import Protocol
from .results import TIMING_FIELDS, MapResult, MethodResult, Results, strip_timing
from .runner import FLOOR, DeletionInsertion

__all__ = [
    "DeletionInsertion",
    "Protocol",
    "Results",
    "MapResult",
    "MethodResult",
    "TIMING_FIELDS",
    "FLOOR",
    "strip_timing",
    "accuracy_curve",
    "normalized_auc",
]
