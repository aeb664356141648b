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
EVALUATION_MD = ROOT / "benchmarks" / "results" / "deletion_insertion_summary.md"


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


def markdown_rst(markdown: str, source: Path = PERFORMANCE_MD) -> str:
    """A results file written by a benchmark script (``benchmarks/run.py --write``,
    ``benchmarks/evaluation_report.py``) as reStructuredText: its pipe tables as ``list-table``
    directives, ``###`` headings as rubrics, the other lines as paragraphs."""
    lines = [line.rstrip() for line in markdown.splitlines()]
    blocks, out = [], []
    for line in lines:  # consecutive "|" lines form one table
        if line.startswith("|") and blocks and isinstance(blocks[-1], list):
            blocks[-1].append(line)
        else:
            blocks.append([line] if line.startswith("|") else line)
    if not any(isinstance(block, list) for block in blocks):
        raise ValueError(f"no markdown table (header, separator, rows) in {source}")
    facts = ("Command:", "Machine at start:", "Machine at end:", "Run time:")
    for block in blocks:
        if isinstance(block, list):
            rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block]
            if len(rows) < 3 or set("".join(rows[1])) - set("-: "):
                raise ValueError(f"malformed markdown table in {source}: {block[0]!r}")
            out += ["", ".. list-table::", "   :header-rows: 1", ""]
            for row in [rows[0]] + rows[2:]:
                out += [f"   {'*' if j == 0 else ' '} - {_rst_inline(cell)}" for j, cell in enumerate(row)]
            out.append("")
        elif block.startswith("<!--") or block.startswith("# ") or block.startswith("## "):
            continue
        elif block.startswith("###"):
            out += ["", f".. rubric:: {_rst_inline(block.lstrip('#').strip())}", ""]
        else:
            out.append(("| " if block.startswith(facts) else "") + _rst_inline(block))  # a line block
    return "\n".join(out).strip() + "\n"


def _write_results(out: Path, source: Path, name: str) -> None:
    from sphinx.util import logging

    try:
        new = markdown_rst(source.read_text(encoding="utf-8"), source)
    except (OSError, ValueError) as error:
        logging.getLogger(__name__).warning("results table %s: %s", source.name, error)
        new = f"*({source.name} could not be read; see the build log)*\n"
    target = out / name
    if not target.exists() or target.read_text(encoding="utf-8") != new:
        target.write_text(new, encoding="utf-8")


def _write_results_tables(app) -> None:
    """Convert the committed benchmark results (``benchmarks/results/*.md``) into
    ``_generated/*.inc``, included by ``performance.rst`` and ``evaluation.rst``: one source of
    numbers."""
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    _write_results(out, PERFORMANCE_MD, "performance.inc")
    _write_results(out, EVALUATION_MD, "evaluation_results.inc")


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
    app.connect("builder-inited", _write_results_tables)
    app.connect("env-check-consistency", _check_public_names)
