"""Run xlwings Server with ibxl's Office.js functions on 127.0.0.1.

xlwings Server needs ``XLWINGS_LICENSE_KEY`` (``noncommercial`` is free for noncommercial use;
commercial use needs a paid key). It is an optional extra: ``pip install ibxl[server]``.
"""

from __future__ import annotations

import os
from pathlib import Path

SERVER_DIR = Path(__file__).parent / "server"


def server_environment(namespace: str = "IB") -> dict[str, str]:
    """The environment xlwings Server needs to serve ibxl's functions as ``=IB.QUOTE(...)``."""
    return {"XLWINGS_PROJECT_DIR": str(SERVER_DIR), "XLWINGS_ENVIRONMENT": "prod",
            "XLWINGS_FUNCTIONS_NAMESPACE": namespace, "XLWINGS_ON_SERVER": "true",
            "XLWINGS_ENABLE_EXAMPLES": "false"}


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Start the server (blocking) and print where Excel finds the add-in manifest."""
    if not os.environ.get("XLWINGS_LICENSE_KEY"):
        raise SystemExit("xlwings Server needs XLWINGS_LICENSE_KEY: set it to 'noncommercial' for noncommercial "
                         "use (free), or to your commercial key")
    os.environ.update(server_environment())
    try:
        import uvicorn
    except ImportError:
        raise SystemExit("xlwings Server is an optional extra: pip install 'ibxl[server]'") from None
    print(f"ibxl functions for Excel: http://{host}:{port}/manifest (sideload it; real Excel needs HTTPS)")
    uvicorn.run("xlwings_server.main:main_app", host=host, port=port, log_level="warning")
