"""The data layer's settings and the embedded gateway's share one place for where TWS listens by
default and where ibxl keeps its files."""

from __future__ import annotations

import argparse

import pytest

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


def test_a_line_budget_below_one_is_refused_with_what_it_means(monkeypatch, tmp_path):
    monkeypatch.setenv("IBXL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("IBXL_LINE_BUDGET", "0")
    with pytest.raises(ValueError, match="line_budget=0: it is the number of market-data lines"):
        config.load()
    monkeypatch.setenv("IBXL_LINE_BUDGET", "many")
    with pytest.raises(ValueError, match="line_budget='many' is not a number"):
        config.load()
    monkeypatch.setenv("IBXL_LINE_BUDGET", "260")
    assert config.load().line_budget == 260
