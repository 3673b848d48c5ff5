"""The analyst notebook runs top to bottom in the project's environment, so it never rots."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

import usage_widgets as uw

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "usage-widgets-test"


@pytest.fixture
def this_python_kernel(tmp_path, monkeypatch) -> str:
    """A kernel spec for this interpreter, found before any other (JUPYTER_PATH comes first)."""
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL, "language": "python",
    }))  # fmt: skip
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return KERNEL


def tagged(nb, tag: str):
    return next(c for c in nb.cells if tag in c.metadata.get("tags", []))


def text_of(cell) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", ""))
        parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


def test_the_explore_notebook_runs_and_shows_budget_use(this_python_kernel, tmp_path) -> None:
    nb = nbformat.read(NOTEBOOKS / "explore.ipynb", as_version=4)
    NotebookClient(nb, kernel_name=this_python_kernel, timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []

    now = pd.Timestamp("2026-03-02 09:00", tz="UTC")
    month = uw.report(uw.demo_log(seed=1, users=80, days=30, now=now), uw.Selection(view="team", range="30d"),
                      now=now)  # fmt: skip
    costs = month.breakdown.set_index("team")["cost"]
    budget_use = text_of(tagged(nb, "budget-use"))
    assert "Over budget: Search" in budget_use  # 191 USD spent of 150
    assert f"{costs['Search'] / 150:.0%}" in budget_use
    assert f"${costs['Platform']:,.2f}" in budget_use

    plot = tagged(nb, "user-plot")
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in plot.outputs)
