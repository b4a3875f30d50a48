"""The data layer's settings and the embedded gateway's share one place for where TWS listens by
default and where ibxl keeps its files."""

from __future__ import annotations

import argparse

from ibxl import config
from ibxl.sim import SimConfig
from ibxl.sim.cli import add_arguments, config_from_args, default_state_dir


def test_the_gateway_listens_where_the_data_layer_looks_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("IBXL_CONFIG", str(tmp_path / "none.toml"))
    for var in ("IBXL_HOST", "IBXL_PORT"):
        monkeypatch.delenv(var, raising=False)
    p = argparse.ArgumentParser()
    add_arguments(p)
    a = p.parse_args([])
    settings = config.load()
    assert (a.host, a.port) == (settings.host, settings.port) == (config.DEFAULT_HOST, config.DEFAULT_PORT)
    assert SimConfig().host == settings.host


def test_the_paper_account_lives_in_the_data_directory_the_data_layer_uses(monkeypatch, tmp_path):
    monkeypatch.setenv("IBXL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("IBXL_DATA_DIR", str(tmp_path / "data"))
    assert default_state_dir() == tmp_path / "data" / "sim"
    monkeypatch.delenv("IBXL_DATA_DIR")
    (tmp_path / "config.toml").write_text(f'data_dir = "{tmp_path / "from-file"}"\n')
    p = argparse.ArgumentParser()
    add_arguments(p)
    assert config_from_args(p.parse_args([])).state_dir == tmp_path / "from-file" / "sim"
    assert config_from_args(p.parse_args(["--memory"])).state_dir is None
