"""``ibxl excel``: set a workbook up for classic Excel, serve the Office.js functions, write the
add-in manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..extras import require


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``excel`` subcommand and its ``install``, ``serve`` and ``manifest`` actions."""
    p = sub.add_parser("excel", help="ibxl's worksheet functions for Excel")
    actions = p.add_subparsers(dest="action", required=True)

    inst = actions.add_parser("install", help="set a workbook up for the classic xlwings UDFs")
    inst.add_argument("workbook", help="an .xlsx or .xlsm workbook")
    inst.add_argument("--interpreter", help="the Python Excel should start (default: this one)")
    inst.set_defaults(func=_install)

    srv = actions.add_parser("serve", help="serve the Office.js functions (=IB.QUOTE) with xlwings Server")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--token", help="the token calls must carry (default: a new random one)")
    srv.add_argument("--allow-remote", action="store_true", help="allow listening on a non-loopback address")
    srv.set_defaults(func=_serve)

    man = actions.add_parser("manifest", help="write the add-in manifest for sideloading")
    man.add_argument("--url", default="https://127.0.0.1:8000", help="the server's address as Excel reaches it")
    man.add_argument("--token", help="the server's token (from `ibxl excel serve`)")
    man.add_argument("--out", default="ibxl-manifest.xml", help="where to write it")
    man.set_defaults(func=_manifest)


def _install(a: argparse.Namespace) -> int:
    from .install import install

    for path in install(a.workbook, a.interpreter):
        print(f"wrote {path}")
    print("In Excel: install the xlwings add-in (`xlwings addin install`), open the workbook, click "
          "xlwings > Import Functions, then import ibxl_refresh.bas (Alt+F11, File > Import) and run "
          "ibxlStartRefresh to keep the cells live.")
    return 0


def _serve(a: argparse.Namespace) -> int:
    require("server", "ibxl excel serve")
    from .serve import serve

    serve(a.host, a.port, a.token, a.allow_remote)
    return 0


def _manifest(a: argparse.Namespace) -> int:
    require("server", "ibxl excel manifest")
    from .serve import manifest

    out = Path(a.out)
    out.write_text(manifest(a.url, a.token), encoding="utf-8")
    print(f"wrote {out}: sideload it in Excel (Insert > Add-ins > Upload My Add-in)")
    return 0
