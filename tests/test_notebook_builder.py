"""The notebooks and the dashboard are written by ``notebooks/build_notebooks.py``: it runs, and the
committed notebooks hold exactly the cells it writes (so an edit to one is never lost to the other)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat

BUILDER = Path(__file__).resolve().parents[1] / "notebooks" / "build_notebooks.py"


def test_every_committed_notebook_holds_the_cells_the_builder_writes():
    spec = importlib.util.spec_from_file_location("build_notebooks", BUILDER)
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)  # a syntax error in the builder fails here
    assert len(builder.NOTEBOOKS) >= 9
    for name, cells in builder.NOTEBOOKS.items():
        path = builder.PACKAGED.get(name, builder.HERE) / name
        committed = nbformat.read(path, as_version=4)
        kinds = ["md" if c.cell_type == "markdown" else c.cell_type for c in committed.cells]
        assert kinds == [kind for kind, _ in cells], name
        assert [c.source for c in committed.cells] == [src for _, src in cells], f"{name} differs from its builder"
