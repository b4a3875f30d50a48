"""A program written for TWS runs unchanged against the embedded gateway, with only the port changed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PROGRAM = Path(__file__).parent / "support" / "tws_program.py"


def test_a_tws_program_runs_unchanged(gateway):
    out = subprocess.run([sys.executable, str(PROGRAM), str(gateway.port)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    bid, ask = map(float, lines[0].split()[1:3])
    assert 0 < bid < ask
    assert any(re.search(r"\d{4}-\d\d-\d\d", line) for line in lines[1:5]), "hourly bars with dates"
    options = [line.split() for line in lines if re.match(r"SPY +\d{6}[CP]\d{8} ", line)]
    assert len(options) >= 4 and len(options) % 2 == 0, lines
    for row in options:
        b, a, iv, delta = map(float, row[-4:])
        assert 0 <= b <= a and 0 < iv < 2 and -1 <= delta <= 1
