"""docs/data-layer-api.md says which calls take ``timeout=`` and which ``wait=``: the signatures agree,
and the connection's timeout comes from ``connect(timeout=)`` or the config file."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import ibxl
from ibxl import config

DOC = (Path(__file__).resolve().parents[1] / "docs" / "data-layer-api.md").read_text()


def _paragraph(start: str) -> str:
    return DOC[DOC.index(start):].split("\n\n", 1)[0]


def test_the_calls_the_doc_names_take_timeout_or_wait():
    timeouts = _paragraph("Timeouts:")
    with_timeout = re.findall(r"`(\w+)\(\.\.\., timeout=([\w.]+)\)`", timeouts)
    assert {name for name, _ in with_timeout} == {"resolve", "history", "option_chain"}
    for name, default in with_timeout:
        param = inspect.signature(getattr(ibxl, name)).parameters["timeout"]
        assert repr(param.default) == default, (name, param.default)
    waits = timeouts.split("take `wait=` instead", 1)[1]
    names = re.findall(r"`(\w+)`", waits)
    assert names
    for name in names:
        assert "wait" in inspect.signature(getattr(ibxl, name)).parameters, name


def test_the_connection_timeout_comes_from_connect_or_the_config_file(monkeypatch, tmp_path):
    monkeypatch.setenv("IBXL_CONFIG", str(tmp_path / "config.toml"))
    assert config.load().timeout == 10.0
    (tmp_path / "config.toml").write_text("timeout = 20\n")
    assert config.load().timeout == 20.0
    assert config.load(timeout=3).timeout == 3.0
    assert "timeout" in inspect.signature(ibxl.connect).parameters
