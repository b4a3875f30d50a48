"""Run xlwings Server with ibxl's Office.js functions on 127.0.0.1, behind a token.

xlwings Server needs ``XLWINGS_LICENSE_KEY`` (``noncommercial`` is free for noncommercial use;
commercial use needs a paid key). It is an optional extra: ``pip install 'ibxl[server]'``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import secrets
from pathlib import Path

SERVER_DIR = Path(__file__).parent / "server"
#: where Excel looks for the functions: ``=IB.QUOTE(...)``
NAMESPACE = "IB"


def server_environment(namespace: str = NAMESPACE, token: str | None = None) -> dict[str, str]:
    """The environment xlwings Server needs to serve ibxl's functions as ``=IB.QUOTE(...)``; with a
    ``token``, every call must carry it."""
    env = {"XLWINGS_PROJECT_DIR": str(SERVER_DIR), "XLWINGS_ENVIRONMENT": "prod",
           "XLWINGS_FUNCTIONS_NAMESPACE": namespace, "XLWINGS_ON_SERVER": "true",
           "XLWINGS_ENABLE_EXAMPLES": "false", "XLWINGS_PROJECT_NAME": "ibxl"}
    if token:
        env.update({"XLWINGS_AUTH_PROVIDERS": '["custom"]', "IBXL_EXCEL_TOKEN": token})
    return env


def _require_license() -> None:
    if not os.environ.get("XLWINGS_LICENSE_KEY"):
        raise SystemExit("xlwings Server needs XLWINGS_LICENSE_KEY: set it to 'noncommercial' for noncommercial "
                         "use (free), or to your commercial key")


def _check_host(host: str, allow_remote: bool) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise SystemExit(f"refusing to listen on {host}: the function server can place orders, so it binds "
                         "127.0.0.1 unless you pass --allow-remote (and put HTTPS in front of it)")


def manifest(base_url: str = "http://127.0.0.1:8000", token: str | None = None) -> str:
    """The Office add-in manifest (XML) for a server at ``base_url``; with ``token``, the add-in's
    pages carry it once (``?ibxl_token=``) so that Excel can send it with every call."""
    _require_license()
    os.environ.update(server_environment(token=token))
    import httpx
    from xlwings_server.main import main_app

    async def fetch() -> str:
        transport = httpx.ASGITransport(app=main_app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url.rstrip("/")) as client:
            response = await client.get("/manifest")
            response.raise_for_status()
            return response.text

    xml = asyncio.run(fetch())
    if token:
        xml = re.sub(r'(/taskpane\.html)"', rf'\1?ibxl_token={token}"', xml)
    return xml


def serve(host: str = "127.0.0.1", port: int = 8000, token: str | None = None, allow_remote: bool = False) -> None:
    """Start the server (blocking) on ``host``:``port`` with a token (made up when not given) that
    every call must carry; print how to sideload the add-in."""
    _require_license()
    _check_host(host, allow_remote)
    token = token or os.environ.get("IBXL_EXCEL_TOKEN") or secrets.token_urlsafe(18)
    os.environ.update(server_environment(token=token))
    try:
        import uvicorn
    except ImportError:
        raise SystemExit("xlwings Server is an optional extra: pip install 'ibxl[server]'") from None
    print(f"ibxl functions for Excel on http://{host}:{port} (namespace {NAMESPACE}: =IB.QUOTE(\"AAPL\"))\n"
          f"  token: {token}   (kept in memory only; pass --token to keep the same one across restarts)\n"
          f"  manifest: ibxl excel manifest --url https://<your-https-host> --token {token} --out ibxl.xml\n"
          "  Excel needs HTTPS in front of this server; see docs/excel.md", flush=True)
    uvicorn.run("xlwings_server.main:main_app", host=host, port=port, log_level="warning")
