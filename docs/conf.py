"""Sphinx configuration of the captum-fggb documentation.

Build (warnings are errors, no network needed)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

The figures in ``_static/`` are made by the package itself: ``python docs/make_figures.py``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not an installed copy
os.environ.setdefault("MPLBACKEND", "Agg")

import captum_fggb  # noqa: E402
from captum_fggb.cli import build_parser  # noqa: E402

project = "captum-fggb"
author = "captum-fggb developers"
copyright = "captum-fggb developers, BSD-3-Clause"
release = captum_fggb.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
# No intersphinx: the build must work offline. References to torch, numpy, matplotlib and
# Captum stay plain text (ignored below); every reference to captum_fggb must resolve.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|np|matplotlib|captum|argparse|pathlib|PIL|cv2)(\..*)?"),
    (r"py:class", r"(Tensor|nn\.Module|Figure|Axes|Path|optional|callable)"),
    (r"py:class", r"(TensorOrTuple|MapLike|MapName|F|ImageLike|PathLike)"),  # type aliases (api.rst)
    # private helpers are not documented; a docstring may still name them
    (r"py:.*", r"captum_fggb(\.\w+)*\._\w+(\.\w+)*"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": False}
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

templates_path: list = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "furo"
html_title = f"captum-fggb {release}"
html_static_path = ["_static"]
pygments_style = "sphinx"


def _write_cli_help(app) -> None:
    """Write ``captum-fggb <command> --help`` for every subcommand into ``_generated/``, so the
    command-line page always matches the code."""
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    parser = build_parser()
    parser.prog = "captum-fggb"
    text = [parser.format_help()]
    for action in parser._subparsers._group_actions:  # argparse has no public accessor
        for name, sub in action.choices.items():
            text.append(f"\n$ captum-fggb {name} --help\n{sub.format_help()}")
    target = out / "cli_help.txt"
    new = "".join(text)
    if not target.exists() or target.read_text() != new:
        target.write_text(new)


PERFORMANCE_MD = ROOT / "benchmarks" / "results" / "performance.md"


def _rst_inline(text: str) -> str:
    """Markdown inline text -> reStructuredText: `code` becomes ``code``, the rest is escaped."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        raise ValueError(f"unbalanced backticks in {text!r}")
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"``{part}``" if part else "")
        else:
            part = part.replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|")
            out.append(re.sub(r"_(?=\W|$)", r"\\_", part))  # ``name_`` would be a link
    return "".join(out)


def performance_rst(markdown: str) -> str:
    """The results file of ``benchmarks/run.py --write`` as reStructuredText: its lines as
    paragraphs and its one pipe table as a ``list-table``."""
    lines = [line.rstrip() for line in markdown.splitlines()]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    if len(rows) < 3 or set("".join(rows[1])) - set("-: "):
        raise ValueError(f"no markdown table (header, separator, rows) in {PERFORMANCE_MD}")
    out, table_done = [], False
    for line in lines:
        if line.startswith("<!--") or line.startswith("#"):
            continue
        if line.startswith("|"):
            if not table_done:
                table_done = True
                out += ["", ".. list-table::", "   :header-rows: 1", ""]
                for row in [rows[0]] + rows[2:]:
                    out += [f"   {'*' if j == 0 else ' '} - {_rst_inline(cell)}" for j, cell in enumerate(row)]
                out.append("")
            continue
        facts = ("Command:", "Machine at start:", "Machine at end:", "Run time:")
        out.append(("| " if line.startswith(facts) else "") + _rst_inline(line))  # a line block
    return "\n".join(out).strip() + "\n"


def _write_performance_table(app) -> None:
    """Convert ``benchmarks/results/performance.md`` (written by ``benchmarks/run.py --write``)
    into ``_generated/performance.inc``, included by ``performance.rst``: one source of numbers."""
    from sphinx.util import logging

    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    try:
        new = performance_rst(PERFORMANCE_MD.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        logging.getLogger(__name__).warning("performance table: %s", error)
        new = "*(benchmarks/results/performance.md could not be read; see the build log)*\n"
    target = out / "performance.inc"
    if not target.exists() or target.read_text(encoding="utf-8") != new:
        target.write_text(new, encoding="utf-8")


#: Modules whose ``__all__`` must be fully documented, besides those ``captum_fggb.__all__`` names.
EXTRA_PUBLIC_MODULES = ["captum_fggb.jacobian", "captum_fggb.cli"]


def public_names() -> list:
    """Every public name: ``captum_fggb.__all__``, and the ``__all__`` of each public module."""
    names, modules = [], ["captum_fggb"] + EXTRA_PUBLIC_MODULES
    for name in captum_fggb.__all__:
        if isinstance(getattr(captum_fggb, name), types.ModuleType):
            modules.append(f"captum_fggb.{name}")
    for module_name in modules:
        module = importlib.import_module(module_name)
        names.append(module_name)
        names += [f"{module_name}.{n}" for n in getattr(module, "__all__", []) if not n.startswith("__")]
    return sorted(set(names))


def _check_public_names(app, env) -> None:
    """Warn (an error under -W) about any public name missing from the API reference."""
    from sphinx.util import logging

    documented = {name for name, *_ in env.get_domain("py").get_objects()}
    for name in public_names():
        if name not in documented:
            logging.getLogger(__name__).warning("public name %s is missing from docs/api.rst", name)


def setup(app) -> None:
    app.connect("builder-inited", _write_cli_help)
    app.connect("builder-inited", _write_performance_table)
    app.connect("env-check-consistency", _check_public_names)
