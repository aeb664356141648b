"""Output files of the subcommands: checked (and their folder created) before the work starts."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidInputError

__all__ = ["prepare_output"]


def prepare_output(path: str) -> Path:
    """Create the folder of the ``--output`` file now, so that a bad path fails before the work.

    Args:
        path: the ``--output`` argument.

    Returns:
        The path.

    Raises:
        InvalidInputError: the folder cannot be created (e.g. a parent is a file, or no
            permission), or ``path`` is an existing folder.
    """
    output = Path(path)
    if output.is_dir():
        raise InvalidInputError(f"--output {path} is a folder; pass a file name, e.g. {output / 'figure.png'}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(
            f"--output {path}: cannot create the folder {output.parent} ({exc.strerror or exc}); "
            "pass a file in a writable folder"
        ) from None
    return output
