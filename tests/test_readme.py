"""The README's research example runs against the embedded gateway exactly as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_research_example_runs_as_written(tmp_path):
    block = re.search(r"## Research in pandas\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README has a research example"
    env = {"IBXL_CACHE_DIR": str(tmp_path / "cache"), "IBXL_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-c", block.group(1)], env={**os.environ, **env}, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"annualised volatility \d+\.\d%", out.stdout)
    assert "AAPL" in out.stdout and "SPY" in out.stdout and "delta" in out.stdout
