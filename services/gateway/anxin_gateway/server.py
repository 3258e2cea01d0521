"""The gateway's HTTP protocol: uvicorn's httptools parser, with the request target kept whole.

httptools reduces an absolute-form request target (`GET http://host/api/v1/...`)
to its path before the app sees it, so the gateway's path hygiene could not
refuse it. This protocol keeps the whole target as `raw_path` whenever it is
not origin-form (it does not start with `/`), and hygiene then refuses it
with 400 like any other path variant (`tests/security/test_attack_access.py`).

h11 kept the whole target too, but parses every request in pure Python: about
0.3 ms of the gateway's CPU per call (`benchmarks/gateway.py`).

Run: `uvicorn anxin_gateway.main:app --http anxin_gateway.server:GatewayHttpProtocol`
(as `anxin up`, the Dockerfile, docker-compose and Kubernetes do).
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "anxin_gateway.server:GatewayHttpProtocol"


class GatewayHttpProtocol(HttpToolsProtocol):
    """httptools; a target that is not origin-form reaches the app unreduced."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The request's task is created but has not run yet: the scope may still change.
        if "raw_path" in self.scope and not self.url.startswith(b"/"):
            self.scope["raw_path"] = self.url
