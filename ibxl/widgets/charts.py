"""Small matplotlib drawings for the panels (drawn into Output widgets, then closed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import indicators as ind

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """A one-line unicode sparkline of recent values."""
    vals = [v for v in values if v == v]
    if len(vals) < 2:
        return ""
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    return "".join(SPARK[min(7, int((v - lo) / span * 7.999))] for v in vals[-30:])


def candles(df: pd.DataFrame, title: str, overlays: set[str]) -> plt.Figure:
    """Candles and volume, with optional SMA, EMA, Bollinger, RSI and MACD."""
    lower = [x for x in ("RSI", "MACD") if x in overlays]
    fig, axes = plt.subplots(2 + len(lower), 1, figsize=(9, 4 + 1.5 * len(lower)), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1] + [1] * len(lower)})
    ax, vol = axes[0], axes[1]
    x = np.arange(len(df))
    up = df["close"] >= df["open"]
    ax.vlines(x, df["low"], df["high"], color=np.where(up, "#1a7f37", "#cf222e"), linewidth=0.8)
    ax.bar(x, (df["close"] - df["open"]).abs().clip(lower=1e-9), bottom=np.minimum(df["open"], df["close"]),
           color=np.where(up, "#1a7f37", "#cf222e"), width=0.7)
    close = df["close"].reset_index(drop=True)
    if "SMA" in overlays:
        ax.plot(x, ind.sma(close), label="SMA 20", linewidth=1)
    if "EMA" in overlays:
        ax.plot(x, ind.ema(close), label="EMA 20", linewidth=1)
    if "Bollinger" in overlays:
        bb = ind.bollinger(close)
        ax.fill_between(x, bb["lower"], bb["upper"], alpha=0.15, label="Bollinger")
    if overlays & {"SMA", "EMA", "Bollinger"}:
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    vol.bar(x, df["volume"].clip(lower=0), color="#8c959f", width=0.7)
    vol.set_ylabel("volume", fontsize=8)
    for axis, name in zip(axes[2:], lower, strict=True):
        if name == "RSI":
            axis.plot(x, ind.rsi(close), color="#8250df", linewidth=1)
            axis.axhline(70, linestyle=":", color="grey")
            axis.axhline(30, linestyle=":", color="grey")
        else:
            m = ind.macd(close)
            axis.plot(x, m["macd"], linewidth=1)
            axis.plot(x, m["signal"], linewidth=1)
            axis.bar(x, m["hist"], color="#8c959f", width=0.7)
        axis.set_ylabel(name, fontsize=8)
    ticks: list[int] = np.linspace(0, len(df) - 1, min(6, len(df))).astype(int).tolist() if len(df) else []
    axes[-1].set_xticks(ticks, [str(df.index[i])[:10] for i in ticks], fontsize=8)
    fig.tight_layout()
    return fig


def smile(chain: pd.DataFrame, title: str) -> plt.Figure:
    """Implied volatility by strike for each expiry (the smile), and ATM IV by expiry (term structure)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    for expiry, grp in chain.groupby("expiry"):
        g = grp.groupby("strike")["iv"].mean()
        a.plot(g.index, g.values, marker=".", label=expiry)
    a.set_title(f"{title} IV smile", fontsize=9)
    a.legend(fontsize=7)
    atm = chain.assign(dist=(chain["strike"] - chain["und_price"]).abs()).sort_values("dist").groupby("expiry")["iv"]
    term = atm.first()
    b.plot(range(len(term)), term.values, marker="o")
    b.set_xticks(range(len(term)), list(term.index), fontsize=7, rotation=30)
    b.set_title("ATM IV term structure", fontsize=9)
    fig.tight_layout()
    return fig


def payoff(legs: list[tuple[str, float, float, float]], spot: float) -> plt.Figure:
    """Payoff at expiry of option legs (right, strike, premium, quantity; negative quantity = short)."""
    xs = np.linspace(spot * 0.7, spot * 1.3, 200)
    total = np.zeros_like(xs)
    for right, strike, premium, qty in legs:
        intrinsic = np.maximum(xs - strike, 0) if right == "C" else np.maximum(strike - xs, 0)
        total += qty * (intrinsic - premium) * 100
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(xs, total)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(spot, color="grey", linestyle=":")
    ax.set_title("payoff at expiry ($)", fontsize=9)
    fig.tight_layout()
    return fig
