"""Write the tutorial notebooks from their cell sources, execute them, and store the outputs.

Run from the repository root (needs ``pip install -e ".[test]"`` for nbformat, nbclient and
ipykernel)::

    python tutorials/make_notebooks.py                 # every tutorial, executed
    python tutorials/make_notebooks.py --no-execute    # sources only (no outputs)
    python tutorials/make_notebooks.py --only FGGB_Face_Verification_Quickstart

The cell sources live in ``tutorials/sources/<name>.py`` as plain Python with ``# %% [markdown]``
and ``# %%`` cell markers (the "percent" format), so that they can be read and diffed as code.
``tests/test_tutorials.py`` checks that each committed notebook matches its source and executes
it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import List, Optional

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
#: Seconds one cell may run before execution fails.
CELL_TIMEOUT = 900

_MARKER = re.compile(r"^# %%( \[markdown\])?\s*$")


def cells_from_source(text: str) -> List[nbformat.NotebookNode]:
    """Split a percent-format script into notebook cells. Markdown cells are written as ``#``
    comment lines; the comment prefix is removed."""
    cells: List[nbformat.NotebookNode] = []
    kind, lines = None, []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                             for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            flush()
            kind, lines = ("markdown" if match.group(1) else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(name: str) -> nbformat.NotebookNode:
    """The notebook of ``tutorials/sources/<name>.py``, without outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells_from_source((SOURCES / f"{name}.py").read_text())
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"  # stable ids: regenerating gives the same file
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def execute(notebook: nbformat.NotebookNode, timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, in ``tutorials/``; raises on the first failing cell."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(HERE)}})
    client.execute()
    return notebook


def names() -> List[str]:
    """The tutorials, by source file name."""
    return sorted(path.stem for path in SOURCES.glob("*.py"))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="write (and execute) the tutorial notebooks")
    parser.add_argument("--only", action="append", choices=names(), help="only this tutorial (repeatable)")
    parser.add_argument("--no-execute", action="store_true", help="write the sources without running them")
    args = parser.parse_args(argv)
    for name in args.only or names():
        notebook = build(name)
        if not args.no_execute:
            print(f"executing {name} ...", flush=True)
            execute(notebook)
        target = HERE / f"{name}.ipynb"
        nbformat.write(notebook, target)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
