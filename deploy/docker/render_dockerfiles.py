#!/usr/bin/env python3
"""Render services/<name>/Dockerfile from deploy/docker/Dockerfile.template.

The five images share one recipe (base stage, builder stage, runtime stage);
only the service name, its port, identity's extra OS packages and audit's
persistent mount point differ.
Keeping one template avoids five hand-maintained copies drifting apart.

    python deploy/docker/render_dockerfiles.py          # write the files
    python deploy/docker/render_dockerfiles.py --check  # exit 1 on drift
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).with_name("Dockerfile.template")

# The runtime contract: service -> port.
PORTS = {"gateway": 8000, "identity": 8001, "consent": 8002, "profile": 8003, "audit": 8004}

NO_EXTRA = "# (no extra OS packages for this service)"

# The identity service's voice engine needs native audio libraries at run time.
IDENTITY_EXTRA = """\
# --- Voice engine (identity only): CPU-side native dependencies from Debian ---
#   libsndfile1  reads/writes WAV and FLAC for the audio stack
#   ffmpeg       decodes the call-recording codecs into PCM
# Override with --build-arg VOICE_APT_PACKAGES="..." if the engine changes.
ARG VOICE_APT_PACKAGES="libsndfile1 ffmpeg"
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ${VOICE_APT_PACKAGES} \\
 && rm -rf /var/lib/apt/lists/*"""

# The audit service keeps archives and its anchor file on a persistent volume
# (ANXIN_AUDIT_ARCHIVE_DIR, ANXIN_AUDIT_ANCHOR_FILE). The mount point exists in
# the image, owned by the service user, so a fresh docker volume inherits it.
AUDIT_EXTRA = """\
# --- Audit only: mount point of the persistent volume (archives, anchor file) ---
RUN mkdir -p /var/lib/anxin-audit \\
 && chown 10001:10001 /var/lib/anxin-audit \\
 && chmod 0700 /var/lib/anxin-audit"""

EXTRA_RUNTIME = {"identity": IDENTITY_EXTRA, "audit": AUDIT_EXTRA}

# The gateway serves on httptools with the request target kept whole, so that an
# absolute-form target is refused (services/gateway/anxin_gateway/server.py).
SERVER_ARGS = {"gateway": ', "--http", "anxin_gateway.server:GatewayHttpProtocol"'}

NO_BUILDER_EXTRA = "# (no extra Python packages for this service)"

# The identity service's voice engine: the `voice` extra of anxin-identity
# (services/identity/pyproject.toml). uv.lock points torch at a CPU wheel kept on
# the development machines' disk, which a build context does not have, so the
# image takes the same CPU-only build from PyTorch's CPU index; resemblyzer goes
# in without its stale pins (webrtcvad-wheels, already locked, provides its VAD).
IDENTITY_BUILDER_EXTRA = """\
# 1b. Identity only: the voice engine (CPU). The pins are the `voice` extra's.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN uv pip install --python /opt/venv/bin/python --index-url ${TORCH_INDEX_URL} \\
        "torch==@TORCH@" \\
 && uv pip install --python /opt/venv/bin/python "librosa==@LIBROSA@" \\
 && uv pip install --python /opt/venv/bin/python --no-deps resemblyzer==@RESEMBLYZER@"""

EXTRA_BUILDER = {"identity": IDENTITY_BUILDER_EXTRA}


def voice_pins() -> dict[str, str]:
    """The `voice` extra's exact pins, read from services/identity/pyproject.toml."""
    import tomllib

    project = tomllib.loads((REPO / "services/identity/pyproject.toml").read_text("utf-8"))
    pins = {}
    for requirement in project["project"]["optional-dependencies"]["voice"]:
        name, _, version = requirement.partition("==")
        pins[name.strip().lower()] = version.strip()
    return pins


def render(service: str) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    builder_extra = EXTRA_BUILDER.get(service, NO_BUILDER_EXTRA)
    if "@TORCH@" in builder_extra:
        pins = voice_pins()
        builder_extra = (
            builder_extra.replace("@TORCH@", pins["torch"])
            .replace("@LIBROSA@", pins["librosa"])
            .replace("@RESEMBLYZER@", pins["resemblyzer"])
        )
    return (
        text.replace("@EXTRA_BUILDER@", builder_extra)
        .replace("@EXTRA_RUNTIME@", EXTRA_RUNTIME.get(service, NO_EXTRA))
        .replace("@SERVER_ARGS@", SERVER_ARGS.get(service, ""))
        .replace("@SERVICE@", service)
        .replace("@PORT@", str(PORTS[service]))
    )


def target(service: str) -> Path:
    return REPO / "services" / service / "Dockerfile"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for service in PORTS:
        wanted = render(service)
        path = target(service)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == wanted:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    if args.check and stale:
        for path in stale:
            print(f"stale: {path.relative_to(REPO)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
