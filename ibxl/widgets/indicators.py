"""Chart indicators computed in pandas: SMA, EMA, Bollinger bands, RSI, MACD."""

from __future__ import annotations

import pandas as pd


def sma(close: pd.Series, n: int = 20) -> pd.Series:
    """Simple moving average."""
    return close.rolling(n).mean()


def ema(close: pd.Series, n: int = 20) -> pd.Series:
    """Exponential moving average."""
    return close.ewm(span=n, adjust=False).mean()


def bollinger(close: pd.Series, n: int = 20, k: float = 2.0) -> pd.DataFrame:
    """Bollinger bands: mid, upper and lower."""
    mid = sma(close, n)
    sd = close.rolling(n).std()
    return pd.DataFrame({"mid": mid, "upper": mid + k * sd, "lower": mid - k * sd})


def rsi(close: pd.Series, n: int = 14) -> pd.Series:
    """Relative strength index (Wilder's smoothing), 0..100."""
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / n, adjust=False).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / n, adjust=False).mean()
    rs = gain / loss
    return 100 - 100 / (1 + rs)


def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD line, signal line and histogram."""
    line = ema(close, fast) - ema(close, slow)
    sig = line.ewm(span=signal, adjust=False).mean()
    return pd.DataFrame({"macd": line, "signal": sig, "hist": line - sig})
