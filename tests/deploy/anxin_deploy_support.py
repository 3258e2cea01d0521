"""Shared knowledge for the deployment tests: the runtime contract, and small
static tools (Dockerfile parser, .dockerignore matcher, compose variable
interpolation, a kustomize subset) that need no Docker engine and no cluster.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
DEPLOY = REPO / "deploy"
POLICIES = REPO / "policies"

# --------------------------------------------------------------------------
# The runtime contract (see deploy/README.md). Keep in one place.

SERVICES = ("gateway", "identity", "consent", "profile", "audit")
PORTS = {"gateway": 8000, "identity": 8001, "consent": 8002, "profile": 8003, "audit": 8004}
PEERS = ("identity", "consent", "profile", "audit")  # the ANXIN_<PEER>_URL variables
UID = 10001

# Who calls whom (caller -> callees), from the contract:
#  the gateway calls all four services; every service's outbox relay calls
#  audit; profile calls consent; identity calls consent and profile; consent calls
#  profile (does the customer exist?) and its outbox delivers withdrawals to
#  identity and profile. tests/deploy/test_call_graph.py derives this from the code.
CALLS: dict[str, set[str]] = {
    "gateway": {"identity", "consent", "profile", "audit"},
    "identity": {"consent", "profile", "audit"},
    "profile": {"consent", "audit"},
    "consent": {"audit", "profile", "identity"},
    "audit": set(),
}
INGRESS_CONTROLLER = "ns:ingress-nginx/app:ingress-nginx"


def contract_command(service: str) -> list[str]:
    command = [
        "uvicorn",
        f"anxin_{service}.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        str(PORTS[service]),
    ]
    if service == "gateway":
        # httptools with the request target kept whole (anxin_gateway/server.py).
        command += ["--http", "anxin_gateway.server:GatewayHttpProtocol"]
    return command


def contract_env(service: str) -> dict[str, str]:
    """Plain-value variables every service must get (the DB URL is separate)."""
    env = {
        "ANXIN_ENV": "prod",
        "ANXIN_POLICIES_DIR": "/etc/anxin/policies",
        "ANXIN_KEYS_DIR": "/etc/anxin/keys",
        "ANXIN_VAR_DIR": "/var/lib/anxin",
        "ANXIN_OTEL_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
    }
    for peer in PEERS:
        env[f"ANXIN_{peer.upper()}_URL"] = f"http://{peer}:{PORTS[peer]}"
    return env


# Settings the gateway refuses to start without outside dev (anxin_gateway.settings).
GATEWAY_IDP_KEY_FILE = "/etc/anxin/keys/idp.pub.pem"
DEV_IDP_ISSUER = "anxin-dev-idp"  # refused by the gateway outside dev


def db_url_var(service: str) -> str:
    return f"ANXIN_{service.upper()}_DATABASE_URL"


# --------------------------------------------------------------------------
# What each service needs from its deployment beyond the contract, taken from
# the services' settings modules (a new required setting or key file must be
# added here AND to compose and k8s; `check_settings` catches the ones the
# settings classes enforce even if this list is forgotten).

SETTINGS_CLASSES = {
    "gateway": ("anxin_gateway.settings", "GatewaySettings"),
    "identity": ("anxin_identity.settings", "IdentitySettings"),
    "consent": ("anxin_consent.settings", "ConsentSettings"),
    "profile": ("anxin_profile.settings", "ProfileSettings"),
    "audit": ("anxin_audit.settings", "AuditSettings"),
}
# Settings that have a dev default but must be set on purpose in a deployment.
REQUIRED_ENV = {
    "gateway": ("ANXIN_GATEWAY_IDP_ISSUER", "ANXIN_GATEWAY_IDP_PUBLIC_KEY_FILE"),
    # Archives and the anchor file must outlive the pod: on a persistent volume.
    "audit": ("ANXIN_AUDIT_ARCHIVE_DIR", "ANXIN_AUDIT_ANCHOR_FILE"),
}
PERSISTENT_ENV = {"audit": ("ANXIN_AUDIT_ARCHIVE_DIR", "ANXIN_AUDIT_ANCHOR_FILE")}
# Files each service reads from ANXIN_KEYS_DIR in production.
SERVICE_KEY_FILES = {
    "identity": ("ani-hash.key", "otp.key", "voiceprint.key"),
    # The public half too: the keys folder is read-only, the service cannot write it.
    "audit": ("audit-checkpoint.ed25519.pem", "audit-checkpoint.ed25519.pub.pem"),
}
DUMMY_DATABASE_URL = "postgresql+psycopg://anxin:secret@db.invalid:5432/anxin_{service}"


def signing_kid(service: str, env: dict[str, str]) -> str:
    """The key id the service signs with (validated like the service does)."""
    from anxin_shared.keys import signing_key_id

    return signing_key_id(service, env)


def required_key_files(service: str, env: dict[str, str]) -> set[str]:
    """Every file the service reads from its keys folder at start (names only)."""
    files = {f"{signing_kid(service, env)}.key.pem"}
    files |= {f"{peer}.pub.pem" for peer in SERVICES}
    if service == "gateway":
        files.add(Path(env["ANXIN_GATEWAY_IDP_PUBLIC_KEY_FILE"]).name)
    files |= set(SERVICE_KEY_FILES.get(service, ()))
    return files


def check_settings(service: str, env: dict[str, str], key_files: set[str], root: Path) -> Any:
    """Build the service's settings class from a container's environment and keys folder.

    Container paths are re-rooted under `root`; the keys folder holds `key_files`
    (dummy contents). Raises the service's own ConfigurationError when a required
    setting or key is missing, exactly as the container would at start.
    """
    import importlib

    def local(value: str) -> str:
        return str(root / value.lstrip("/")) if value.startswith("/") else value

    environ = {k: local(v) for k, v in env.items()}
    keys_dir = Path(environ.get("ANXIN_KEYS_DIR", str(root / "no-keys-dir")))
    keys_dir.mkdir(parents=True, exist_ok=True)
    for name in key_files:
        path = keys_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("deployment-test-secret-" + "k" * 32 + "\n")
    module, name = SETTINGS_CLASSES[service]
    settings_class = getattr(importlib.import_module(module), name)
    saved = dict(os.environ)
    try:
        for key in list(os.environ):
            if key.startswith(("ANXIN_", "OTEL_")):
                del os.environ[key]
        os.environ.update(environ)
        return settings_class()
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --------------------------------------------------------------------------
# OpenTelemetry Collector configuration


def check_collector_config(config: dict[str, Any]) -> None:
    """Every component a pipeline names is defined; OTLP/HTTP on 4318 (the
    services' OTEL_EXPORTER_OTLP_ENDPOINT); traces are redacted."""
    pipelines = config["service"]["pipelines"]
    for pipeline_name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), (
                    f"pipeline {pipeline_name}: {kind[:-1]} {component} is not defined"
                )
    for extension in config["service"].get("extensions", []):
        assert extension in config.get("extensions", {})
    http = config["receivers"]["otlp"]["protocols"]["http"]
    assert str(http["endpoint"]).endswith(":4318")
    assert "otlp" in pipelines["traces"]["receivers"]
    assert "redaction" in pipelines["traces"]["processors"]
    processors = pipelines["traces"]["processors"]
    assert processors[0] == "memory_limiter" and processors[-1] == "batch"


# --------------------------------------------------------------------------
# Dockerfiles


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (continuations joined, comments dropped) and build stages."""
    instructions: list[Instruction] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue  # comment lines inside a continuation are ignored by Docker
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer.append(line[:-1].strip())
            continue
        buffer.append(line)
        joined = " ".join(part for part in buffer if part)
        buffer = []
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    assert not buffer, "Dockerfile ends inside a line continuation"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            base = words[0]
            for name, value in global_args.items():
                base = base.replace("${" + name + "}", value).replace("$" + name, value)
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(base=base, name=alias))
        elif not stages:
            if ins.keyword == "ARG":
                name, _, value = ins.args.partition("=")
                global_args[name.strip()] = value.strip().strip('"')
        else:
            stages[-1].instructions.append(ins)
    return instructions, stages


def copy_sources(ins: Instruction) -> tuple[str | None, list[str], str]:
    """(--from value or None, sources, destination) of a COPY/ADD."""
    words = ins.args.split()
    origin = None
    rest = []
    for word in words:
        if word.startswith("--from="):
            origin = word.split("=", 1)[1]
        elif word.startswith("--"):
            continue
        else:
            rest.append(word)
    if rest and rest[0].startswith("["):
        rest = yaml.safe_load(" ".join(rest))
    return origin, rest[:-1], rest[-1]


# --------------------------------------------------------------------------
# .dockerignore (Docker's rules: last match wins, `!` re-includes, a pattern
# matching a parent folder excludes what is below it)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
            continue
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z")


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = os.path.normpath(pattern.strip("/")).replace(os.sep, "/")
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def dockerignored(rules: list[tuple[bool, re.Pattern[str]]], path: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, regex in rules:
        if negate:
            # Re-inclusion applies to the path itself or a folder above it.
            if any(regex.match(p) for p in prefixes):
                excluded = False
        elif any(regex.match(p) for p in prefixes):
            excluded = True
    return excluded


# --------------------------------------------------------------------------
# Compose variable interpolation (${VAR}, ${VAR:-default}, ${VAR-default}, $$)

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class InterpolationError(ValueError):
    pass


def interpolate(value: Any, environ: dict[str, str] | None = None) -> Any:
    environ = {} if environ is None else environ
    if isinstance(value, dict):
        return {k: interpolate(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = environ.get(name)
        if op in (":-", "-"):
            if current is None or (op == ":-" and current == ""):
                return arg
            return current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise InterpolationError(f"${{{name}}} is required: {arg}")
            return current
        if current is None:
            raise InterpolationError(f"${{{name}}} has no default and is not set")
        return current

    return _VAR.sub(substitute, value)


def env_mapping(environment: Any) -> dict[str, str]:
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {k: "" if v is None else str(v) for k, v in environment.items()}
    out = {}
    for item in environment:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


# --------------------------------------------------------------------------
# Kustomize subset: resources (files and folders), namespace, images,
# replicas, configMapGenerator/secretGenerator (names and keys), and
# strategic-merge patches by kind/name. Enough for this repository's
# kustomizations; anything else is refused loudly rather than ignored.

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "images",
    "replicas",
    "patches",
    "configMapGenerator",
    "secretGenerator",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
# Strategic-merge keys for the lists this repository patches.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
}


class KustomizeError(Exception):
    pass


def kustomization_file(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def load_kustomization(folder: Path) -> dict[str, Any]:
    path = kustomization_file(folder)
    if path is None:
        raise KustomizeError(f"no kustomization in {folder}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data


def load_manifests(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            raise KustomizeError(f"{path}: not a Kubernetes object: {str(doc)[:80]}")
    return docs


def generator_entries(entry: dict[str, Any], folder: Path) -> tuple[dict[str, str], list[Path]]:
    """Keys of a generated ConfigMap/Secret -> value ('' for files), and its files."""
    data: dict[str, str] = {}
    files: list[Path] = []
    for item in entry.get("files", []):
        key, sep, rel = item.partition("=")
        if not sep:
            rel, key = item, Path(item).name
        path = (folder / rel).resolve()
        if not path.is_file():
            raise KustomizeError(f"{folder}: generator {entry['name']}: no file {rel}")
        files.append(path)
        data[key] = path.read_text(encoding="utf-8")
    for literal in entry.get("literals", []):
        key, sep, value = literal.partition("=")
        if not sep:
            raise KustomizeError(f"{folder}: bad literal {literal!r}")
        data[key] = value
    if entry.get("envs") or entry.get("env"):
        raise KustomizeError(f"{folder}: env-file generators are not supported by this resolver")
    return data, files


def strategic_merge(base: Any, patch: Any, list_key: str | None = None) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and list_key in MERGE_KEYS:
        merge_key = MERGE_KEYS[list_key]
        merged = [copy.deepcopy(item) for item in base]
        for item in patch:
            for index, existing in enumerate(merged):
                if existing.get(merge_key) == item.get(merge_key):
                    merged[index] = strategic_merge(existing, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    name, digest = image, None
    if "@" in image:
        name, digest = image.split("@", 1)
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


@dataclass
class Build:
    folder: Path
    objects: list[dict[str, Any]]
    generated: dict[tuple[str, str], dict[str, str]]  # (kind, name) -> data
    files: set[Path]  # every file this build read


def build(folder: Path) -> Build:
    """Resolve a kustomization like `kustomize build --load-restrictor
    LoadRestrictionsNone` does, for the features listed above."""
    folder = folder.resolve()
    spec = load_kustomization(folder)
    unknown = set(spec) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{folder}: fields not supported by this resolver: {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    generated: dict[tuple[str, str], dict[str, str]] = {}
    files: set[Path] = {kustomization_file(folder).resolve()}  # type: ignore[union-attr]

    for entry in spec.get("resources", []):
        path = (folder / entry).resolve()
        if path.is_dir():
            sub = build(path)
            objects += sub.objects
            generated.update(sub.generated)
            files |= sub.files
        elif path.is_file():
            objects += load_manifests(path)
            files.add(path)
        else:
            raise KustomizeError(f"{folder}: resource {entry} does not exist")

    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for entry in spec.get(key, []):
            data, used = generator_entries(entry, folder)
            files |= set(used)
            behavior = entry.get("behavior", "create")
            name = entry["name"]
            if behavior == "create" and (kind, name) in generated:
                raise KustomizeError(f"{folder}: {kind} {name} generated twice")
            generated[(kind, name)] = data
            obj: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": kind,
                "metadata": {"name": name},
                "data": {k: "<file>" if v and "\n" in v else v for k, v in data.items()},
            }
            if kind == "Secret":
                obj["type"] = entry.get("type", "Opaque")
            objects = [
                o for o in objects if not (o["kind"] == kind and o["metadata"]["name"] == name)
            ]
            objects.append(obj)

    for entry in spec.get("patches", []):
        if "path" not in entry:
            raise KustomizeError(f"{folder}: only file patches are supported")
        path = (folder / entry["path"]).resolve()
        if not path.is_file():
            raise KustomizeError(f"{folder}: patch {entry['path']} does not exist")
        files.add(path)
        for patch in load_manifests(path):
            if isinstance(patch, list) or "op" in patch:
                raise KustomizeError(f"{path}: JSON 6902 patches are not supported")
            matches = [
                i
                for i, o in enumerate(objects)
                if o["kind"] == patch["kind"] and o["metadata"]["name"] == patch["metadata"]["name"]
            ]
            if len(matches) != 1:
                raise KustomizeError(
                    f"{path}: patch target {patch['kind']}/{patch['metadata']['name']} "
                    f"matched {len(matches)} objects"
                )
            objects[matches[0]] = strategic_merge(objects[matches[0]], patch)

    for entry in spec.get("images", []):
        hits = 0
        for obj in objects:
            for container in _containers(obj):
                name, tag, digest = _split_image(container["image"])
                if name != entry["name"]:
                    continue
                hits += 1
                name = entry.get("newName", name)
                if "digest" in entry:
                    container["image"] = f"{name}@{entry['digest']}"
                elif "newTag" in entry:
                    container["image"] = f"{name}:{entry['newTag']}"
                else:
                    tail = f"@{digest}" if digest else (f":{tag}" if tag else "")
                    container["image"] = name + tail
        if not hits:
            raise KustomizeError(f"{folder}: images entry {entry['name']} matches no container")

    for entry in spec.get("replicas", []):
        targets = [
            o
            for o in objects
            if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == entry["name"]
        ]
        if not targets:
            raise KustomizeError(f"{folder}: replicas entry {entry['name']} matches nothing")
        for obj in targets:
            obj["spec"]["replicas"] = entry["count"]

    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]

    return Build(folder=folder, objects=objects, generated=generated, files=files)


# --------------------------------------------------------------------------
# The real kustomize (kubectl kustomize), when the machine has it.

_HASH = re.compile(r"-[a-z0-9]{10}\Z")


def kubectl_kustomize() -> list[str] | None:
    """Command prefix for a real kustomize build, or None. Never downloads."""
    if shutil.which("kustomize"):
        return ["kustomize", "build", "--load-restrictor", "LoadRestrictionsNone"]
    if shutil.which("kubectl"):
        probe = subprocess.run(
            ["kubectl", "kustomize", "--help"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0 and "load-restrictor" in probe.stdout:
            return ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone"]
    return None


def real_build(folder: Path, command: list[str]) -> list[dict[str, Any]]:
    result = subprocess.run(
        [*command, str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise KustomizeError(f"{' '.join(command)} {folder} failed:\n{result.stderr}")
    objects = [d for d in yaml.safe_load_all(result.stdout) if d]
    # Strip the generators' name-suffix hashes, everywhere they are referenced.
    renames = {}
    for obj in objects:
        if obj["kind"] in ("ConfigMap", "Secret"):
            name = obj["metadata"]["name"]
            if _HASH.search(name):
                renames[name] = _HASH.sub("", name)
    if not renames:
        return objects
    text = yaml.safe_dump_all(objects, sort_keys=False)
    for old, new in renames.items():
        text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text)
    return [d for d in yaml.safe_load_all(text) if d]
