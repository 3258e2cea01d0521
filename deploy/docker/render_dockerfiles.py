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


def render(service: str) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    return (
        text.replace("@EXTRA_RUNTIME@", EXTRA_RUNTIME.get(service, NO_EXTRA))
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
