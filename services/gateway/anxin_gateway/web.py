"""The agent desktop (`/desk/`) and security console (`/console/`): public static files only.

The pages are plain HTML, CSS and JavaScript with no build step and no external
asset. They hold nothing private: every datum comes from the public `/api/v1/`
API with a bearer token the page keeps in memory. Path hygiene (hygiene.py)
has already refused dot segments, escapes and backslashes before a request
reaches these mounts, and `StaticFiles` itself serves only files under its own
directory. Each response forbids caching, framing, inline script and any
origin but this one.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).parent / "web"
# Swagger UI's bundle and stylesheet, as the fastapi-offline package ships them.
SWAGGER_UI_DIR = Path(str(files("fastapi_offline") / "static"))
MOUNTS = {"/desk": "desk", "/console": "console", "/web": "common", "/docs": "docs"}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


class WebFiles(StaticFiles):
    """`StaticFiles` that never follows symlinks out and adds the page's security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_web(app: FastAPI) -> None:
    """Serve the desktop, the console, the API docs and their assets from the package's `web/`.

    The API docs page is Swagger UI from the `fastapi-offline` package's files, served
    from this origin like everything else (FastAPI's own /docs would load it from a CDN).
    """
    app.mount("/docs/vendor", WebFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
    for prefix, folder in MOUNTS.items():
        app.mount(prefix, WebFiles(directory=WEB_DIR / folder, html=True), name=folder)
