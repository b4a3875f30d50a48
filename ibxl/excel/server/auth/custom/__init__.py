"""The token check of ``ibxl excel serve``: every function call and socket.io connection must carry
the token the server was started with (``IBXL_EXCEL_TOKEN``); nothing is stored on disk."""

from __future__ import annotations

import os
import secrets

from fastapi import HTTPException, status
from xlwings_server.models import User


async def validate_token(token_string: str | None) -> User:
    """Accept the request when its Authorization header (or socket.io auth) equals the server's token."""
    expected = os.environ.get("IBXL_EXCEL_TOKEN", "")
    given = (token_string or "").removeprefix("Bearer ").strip()
    if expected and secrets.compare_digest(given.encode(), expected.encode()):
        return User(id="ibxl", name="ibxl excel")
    raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED,
                        detail="ibxl: missing or wrong token; sideload the manifest `ibxl excel manifest` "
                               "wrote for this server's token")
