"""Exception classes of captum-fggb.

Every error the package raises on purpose is either a built-in ``ValueError``/``TypeError``/
``FileNotFoundError`` or one of the classes below. All of them subclass :class:`CaptumFGGBError`,
so ``except captum_fggb.errors.CaptumFGGBError`` catches exactly what the package raised on
purpose; the ones that describe bad input also subclass ``ValueError``.
"""

from __future__ import annotations

__all__ = [
    "CaptumFGGBError",
    "InvalidInputError",
    "EmbedderOutputError",
    "ModelFileError",
    "MissingDependencyError",
    "NoFaceError",
]


class CaptumFGGBError(Exception):
    """Base class of every exception raised on purpose by captum-fggb."""


class InvalidInputError(CaptumFGGBError, ValueError):
    """An image, threshold or option has the wrong shape, type or range.

    The message names the argument and says how to fix it.
    """


class EmbedderOutputError(CaptumFGGBError, ValueError):
    """The embedding model returned something that is not an ``(N, D)`` tensor of
    non-zero embeddings."""


class ModelFileError(CaptumFGGBError, OSError):
    """A model file is missing, corrupt, or its SHA-256 does not match the expected one."""


class MissingDependencyError(CaptumFGGBError, ImportError):
    """An optional dependency needed for this feature is not installed.

    The message names the ``pip install`` command that provides it.
    """


class NoFaceError(CaptumFGGBError, ValueError):
    """The face detector found no face in an image.

    The message names the file (or the argument) and what was tried.
    """
