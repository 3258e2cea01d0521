"""Static checks of the Kubernetes manifests under k8s/.

Each kustomization (base, overlays/dev, overlays/prod) is resolved by the
small resolver in anxin_deploy_support (no binary needed), and, when the
machine has kustomize or kubectl, also by the real kustomize; every check runs
on both renderings, and the two renderings must agree. Nothing is downloaded
and no cluster is contacted.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.anxin_deploy_support import (
    CALLS,
    DEV_IDP_ISSUER,
    GATEWAY_IDP_KEY_FILE,
    INGRESS_CONTROLLER,
    K8S,
    PERSISTENT_ENV,
    POLICIES,
    PORTS,
    REPO,
    REQUIRED_ENV,
    SERVICE_KEY_FILES,
    SERVICES,
    UID,
    Build,
    KustomizeError,
    build,
    check_collector_config,
    check_settings,
    contract_command,
    contract_env,
    db_url_var,
    kubectl_kustomize,
    kustomization_file,
    load_kustomization,
    real_build,
    required_key_files,
    signing_kid,
)

TARGETS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}
BASE_REPLICAS = {"gateway": 3, "identity": 2, "consent": 2, "profile": 2, "audit": 2}
KNOWN_KINDS = {
    ("v1", "Namespace"),
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
}
KEY_SECRETS = {f"anxin-{s}-signing-key" for s in SERVICES} | {
    "anxin-public-keys",
    "anxin-client-keys",
    "anxin-identity-secrets",
    "anxin-audit-checkpoint-key",
}


def secret_files(secret: str, env: dict[str, str]) -> set[str]:
    """The files an external key Secret must hold (k8s/README.md, "What the manifests
    expect from the cluster"); mounted whole, so rotated keys arrive without edits."""
    for service in SERVICES:
        if secret == f"anxin-{service}-signing-key":
            return {f"{signing_kid(service, env)}.key.pem"}
    documented = {
        "anxin-public-keys": {f"{n}.pub.pem" for n in (*SERVICES, "idp")},
        "anxin-client-keys": set(),  # <client_id>.pub.pem, mounted at keys/clients/
        "anxin-identity-secrets": set(SERVICE_KEY_FILES["identity"]),
        "anxin-audit-checkpoint-key": set(SERVICE_KEY_FILES["audit"]),
    }
    return documented[secret]


DB_SECRETS = {f"anxin-{s}-db" for s in SERVICES}
# Objects the pods reference but that, by design, a kustomization does not
# create (k8s/README.md): key material, TLS, and in prod the database URLs.
EXTERNAL = {
    "base": {("Secret", n) for n in KEY_SECRETS | DB_SECRETS | {"anxin-gateway-tls"}}
    | {("ConfigMap", "anxin-policies")},
    "dev": {("Secret", n) for n in KEY_SECRETS | {"anxin-gateway-tls"}},
    "prod": {("Secret", n) for n in KEY_SECRETS | DB_SECRETS | {"anxin-gateway-tls"}},
}

REAL = kubectl_kustomize()
RENDERERS = ["resolver", "kustomize"]


@pytest.fixture(scope="module")
def lite_builds() -> dict[str, Build]:
    return {name: build(path) for name, path in TARGETS.items()}


@pytest.fixture(scope="module")
def real_builds() -> dict[str, list[dict]]:
    if REAL is None:
        pytest.skip("neither kustomize nor kubectl is installed (not downloading them)")
    return {name: real_build(path, REAL) for name, path in TARGETS.items()}


@pytest.fixture(scope="module", params=RENDERERS)
def rendered(request, lite_builds) -> dict[str, list[dict]]:
    if request.param == "resolver":
        return {name: b.objects for name, b in lite_builds.items()}
    return request.getfixturevalue("real_builds")


# --------------------------------------------------------------------------
# helpers


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict], kind: str, name: str) -> dict:
    found = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


def pod_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Label selector semantics (matchLabels and matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def app(workload: dict) -> str:
    return pod_labels(workload)["app.kubernetes.io/name"]


def container(workload: dict, name: str | None = None) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    name = name or workload["metadata"]["name"]
    return next(c for c in containers if c["name"] == name)


def port_number(workload: dict, port: int | str) -> int:
    if isinstance(port, int):
        return port
    for c in workload["spec"]["template"]["spec"]["containers"]:
        for p in c.get("ports", []):
            if p.get("name") == port:
                return p["containerPort"]
    raise AssertionError(f"{workload['metadata']['name']}: no container port named {port}")


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def mounts_of(c: dict) -> dict[str, dict]:
    return {m["mountPath"]: m for m in c.get("volumeMounts", [])}


def volumes_of(workload: dict) -> dict[str, dict]:
    return {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}


def anxin_deployments(objects: list[dict]) -> dict[str, dict]:
    return {
        d["metadata"]["name"]: d
        for d in of_kind(objects, "Deployment")
        if d["metadata"]["name"] in SERVICES
    }


def image_parts(image: str) -> tuple[str, str | None, str | None]:
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    if ":" in image.rsplit("/", 1)[-1]:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest


# --------------------------------------------------------------------------
# kustomization hygiene (folder level, independent of the renderer)


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def referenced_files(folder: Path) -> set[Path]:
    spec = load_kustomization(folder)
    refs: set[Path] = set()
    for entry in spec.get("resources", []):
        refs.add((folder / entry).resolve())
    for entry in spec.get("patches", []):
        if "path" in entry:
            refs.add((folder / entry["path"]).resolve())
    for key in ("configMapGenerator", "secretGenerator"):
        for gen in spec.get(key, []):
            for item in gen.get("files", []):
                refs.add((folder / item.split("=", 1)[-1]).resolve())
    return refs


def test_the_expected_kustomizations_exist() -> None:
    assert {p.relative_to(K8S).as_posix() for p in kustomization_dirs()} == {
        "base",
        "overlays/dev",
        "overlays/prod",
    }


@pytest.mark.parametrize(
    "folder", kustomization_dirs(), ids=lambda p: p.relative_to(K8S).as_posix()
)
def test_kustomization_lists_every_file_in_its_folder(folder: Path) -> None:
    refs = referenced_files(folder)
    for ref in refs:
        assert ref.exists(), f"{folder.relative_to(REPO)} references missing {ref}"
    nested = {p.parent for p in folder.rglob("kustomization.yaml") if p.parent != folder}
    orphans = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.name in ("kustomization.yaml", "README.md"):
            continue
        if any(n in path.parents for n in nested):
            continue
        if path.resolve() not in refs:
            orphans.append(path.relative_to(REPO).as_posix())
    assert not orphans, f"files no kustomization uses: {orphans}"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_builds_on_the_base(overlay: str) -> None:
    spec = load_kustomization(TARGETS[overlay])
    resources = [(TARGETS[overlay] / r).resolve() for r in spec.get("resources", [])]
    assert (K8S / "base").resolve() in resources
    assert spec.get("namespace") == "anxin"
    assert "bases" not in spec and "patchesStrategicMerge" not in spec, "deprecated fields"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_ships_every_policy_file_for_hot_reload(overlay: str) -> None:
    spec = load_kustomization(TARGETS[overlay])
    generator = next(g for g in spec["configMapGenerator"] if g["name"] == "anxin-policies")
    shipped = {(TARGETS[overlay] / f).resolve() for f in generator["files"]}
    # Every policy file; documentation for security staff (*.md) stays in git.
    expected = {p.resolve() for p in POLICIES.iterdir() if p.is_file() and p.suffix != ".md"}
    assert shipped == expected, "the policies ConfigMap must carry every file of policies/"
    # Updated in place (no hash suffix) so the mounted files change and the
    # services hot-reload instead of being restarted.
    assert generator.get("options", {}).get("disableNameSuffixHash") is True


def test_base_has_no_policies_generator_outside_its_root() -> None:
    """The base must build with kustomize's default load restrictions."""
    spec = load_kustomization(TARGETS["base"])
    for gen in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
        for item in gen.get("files", []):
            path = (TARGETS["base"] / item.split("=", 1)[-1]).resolve()
            assert TARGETS["base"].resolve() in path.parents, f"{item} is outside k8s/base"


def test_resolver_refuses_what_it_does_not_understand(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(KustomizeError):
        build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("commonLabels: {a: b}\n")
    with pytest.raises(KustomizeError):
        build(tmp_path)


def _projection(objects: list[dict]) -> dict:
    """What the checks look at, in a form both renderings must share."""
    out: dict[str, Any] = {}
    for o in objects:
        key = f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
        if o["kind"] in ("ConfigMap", "Secret"):
            out[key] = sorted((o.get("data") or {}) | (o.get("stringData") or {}))
        else:
            out[key] = {k: v for k, v in o.items() if k not in ("metadata", "status")}
            out[key]["labels"] = o["metadata"].get("labels")
    return out


@pytest.mark.parametrize("target", list(TARGETS))
def test_resolver_agrees_with_the_real_kustomize(lite_builds, real_builds, target: str) -> None:
    mine = _projection(lite_builds[target].objects)
    theirs = _projection(real_builds[target])
    assert sorted(mine) == sorted(theirs)
    for key in mine:
        if key.startswith(("ConfigMap/", "Secret/")):
            assert mine[key] == theirs[key], key
            continue
        a = yaml.safe_dump(mine[key], sort_keys=True)
        b = yaml.safe_dump(theirs[key], sort_keys=True)
        assert yaml.safe_load(a) == yaml.safe_load(b), key


# --------------------------------------------------------------------------
# object-level checks, on every rendering


@pytest.mark.parametrize("target", list(TARGETS))
def test_objects_are_known_kinds_in_the_anxin_namespace(rendered, target: str) -> None:
    objects = rendered[target]
    for o in objects:
        assert (o["apiVersion"], o["kind"]) in KNOWN_KINDS, (o["apiVersion"], o["kind"])
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == "anxin", o["metadata"]["name"]
    keys = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys)), "duplicate objects"
    ns = named(objects, "Namespace", "anxin")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_workload_is_hardened(rendered, target: str) -> None:
    for w in workloads(rendered[target]):
        name = w["metadata"]["name"]
        pod = w["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, name
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c.get("securityContext", {})
            where = f"{name}/{c['name']}"
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert "ALL" in sc.get("capabilities", {}).get("drop", []), where
            assert not sc.get("capabilities", {}).get("add"), where
            assert not sc.get("privileged"), where
            assert sc.get("runAsNonRoot", True) is True, where
            assert sc.get("seccompProfile", {"type": "RuntimeDefault"})["type"] == "RuntimeDefault"
            for p in c.get("ports", []):
                assert "hostPort" not in p, where
            for kind in ("requests", "limits"):
                res = c.get("resources", {}).get(kind, {})
                assert {"cpu", "memory"} <= set(res), f"{where}: resources.{kind}"
        if name in SERVICES or name == "otel-collector":
            assert psc.get("runAsUser") == UID and psc.get("runAsGroup") == UID, name
            assert psc.get("fsGroup") == UID, name


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_deployment_has_probes_on_the_right_paths(rendered, target: str) -> None:
    for d in of_kind(rendered[target], "Deployment"):
        name = d["metadata"]["name"]
        c = container(d)
        for probe in ("readinessProbe", "livenessProbe"):
            assert probe in c, f"{name}: no {probe}"
            port_number(d, c[probe]["httpGet"]["port"])  # resolves to a declared port
        if name in SERVICES:
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert port_number(d, c[probe]["httpGet"]["port"]) == PORTS[name]


@pytest.mark.parametrize("target", list(TARGETS))
def test_deployments_follow_the_runtime_contract(rendered, target: str) -> None:
    deployments = anxin_deployments(rendered[target])
    assert set(deployments) == set(SERVICES)
    for name, d in deployments.items():
        c = container(d)
        assert c.get("command", []) + c.get("args", []) == contract_command(name)
        assert [p["containerPort"] for p in c["ports"]] == [PORTS[name]]
        env = env_of(c)
        for key, value in contract_env(name).items():
            assert env.get(key, {}).get("value") == value, f"{name}: {key}"
        if name == "gateway":
            assert env["ANXIN_GATEWAY_IDP_PUBLIC_KEY_FILE"]["value"] == GATEWAY_IDP_KEY_FILE
            issuer = env["ANXIN_GATEWAY_IDP_ISSUER"]["value"]
            assert issuer and issuer != DEV_IDP_ISSUER
        ref = env[db_url_var(name)]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"anxin-{name}-db", "key": "url"}
        other_urls = [k for k in env if k.endswith("_DATABASE_URL") and k != db_url_var(name)]
        assert not other_urls, f"{name} must not see other databases: {other_urls}"
        assert d["spec"]["template"]["spec"]["serviceAccountName"] == f"anxin-{name}"


@pytest.mark.parametrize("target", list(TARGETS))
def test_deployments_mount_policies_keys_and_var_dir(rendered, target: str) -> None:
    for name, d in anxin_deployments(rendered[target]).items():
        mounts, volumes = mounts_of(container(d)), volumes_of(d)
        var = volumes[mounts["/var/lib/anxin"]["name"]]
        assert "emptyDir" in var and not mounts["/var/lib/anxin"].get("readOnly")
        tmp = mounts["/tmp"]  # noqa: S108
        assert "emptyDir" in volumes[tmp["name"]], "python needs a writable /tmp"
        policies = mounts["/etc/anxin/policies"]
        assert policies.get("readOnly") is True and "subPath" not in policies, (
            "mount the whole ConfigMap (no subPath) or updates never reach the pod"
        )
        assert volumes[policies["name"]]["configMap"]["name"] == "anxin-policies"
        keys = mounts["/etc/anxin/keys"]
        assert keys.get("readOnly") is True and "subPath" not in keys
        sources = volumes[keys["name"]]["projected"]["sources"]
        secrets = [s["secret"] for s in sources if "secret" in s]
        assert [s for s in sources if "secret" not in s] == []
        # Its own signing Secret (holding only its own <kid>.key.pem), and no other's.
        signing = [s["name"] for s in secrets if s["name"].endswith("-signing-key")]
        assert signing == [f"anxin-{name}-signing-key"], f"{name} must get its own key only"
        own = {"identity": "anxin-identity-secrets", "audit": "anxin-audit-checkpoint-key"}
        others = {s["name"] for s in secrets} - {signing[0], "anxin-public-keys"}
        assert others == ({own[name]} if name in own else set()), others
        assert "anxin-public-keys" in [s["name"] for s in secrets]
        clients = mounts["/etc/anxin/keys/clients"]
        assert clients.get("readOnly") is True
        assert volumes[clients["name"]]["secret"]["secretName"] == "anxin-client-keys"


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_deployment_has_a_matching_service_and_pdb(rendered, target: str) -> None:
    objects = rendered[target]
    pods = workloads(objects)
    for d in of_kind(objects, "Deployment"):
        name, labels = d["metadata"]["name"], pod_labels(d)
        assert selects(d["spec"]["selector"], labels), f"{name}: selector misses its pods"
        services = [
            s
            for s in of_kind(objects, "Service")
            if selects({"matchLabels": s["spec"]["selector"]}, labels)
        ]
        assert len(services) == 1, f"{name}: {len(services)} Services select it"
        svc = services[0]
        assert svc["metadata"]["name"] == name, "the Service is named after its Deployment"
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
        for other in pods:
            if other is not d:
                assert not selects({"matchLabels": svc["spec"]["selector"]}, pod_labels(other))
        for port in svc["spec"]["ports"]:
            port_number(d, port.get("targetPort", port["port"]))
        if name in SERVICES:
            assert [(p["port"], port_number(d, p["targetPort"])) for p in svc["spec"]["ports"]] == [
                (PORTS[name], PORTS[name])
            ], "http://<service>:<contract port> must reach the pod"
        pdbs = [
            p
            for p in of_kind(objects, "PodDisruptionBudget")
            if selects(p["spec"]["selector"], labels)
        ]
        assert len(pdbs) == 1, f"{name}: {len(pdbs)} PDBs"
        min_available = pdbs[0]["spec"]["minAvailable"]
        assert 1 <= min_available < d["spec"]["replicas"], f"{name}: PDB would block drains"
        if target == "base":
            assert min_available == 1


@pytest.mark.parametrize("target", list(TARGETS))
def test_replicas(rendered, target: str) -> None:
    deployments = anxin_deployments(rendered[target])
    base = anxin_deployments(rendered["base"])
    for name, d in deployments.items():
        replicas = d["spec"]["replicas"]
        if target == "prod":
            assert replicas > BASE_REPLICAS[name], f"prod must run more {name} replicas"
        else:
            assert replicas == BASE_REPLICAS[name] == base[name]["spec"]["replicas"]


@pytest.mark.parametrize("target", list(TARGETS))
def test_gateway_autoscales_on_cpu(rendered, target: str) -> None:
    objects = rendered[target]
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    assert len(hpas) == 1
    hpa = hpas[0]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway",
    }
    metrics = hpa["spec"]["metrics"]
    assert metrics == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    gateway = named(objects, "Deployment", "gateway")
    assert hpa["spec"]["minReplicas"] == gateway["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


@pytest.mark.parametrize("target", list(TARGETS))
def test_only_the_gateway_is_exposed(rendered, target: str) -> None:
    objects = rendered[target]
    ingresses = of_kind(objects, "Ingress")
    assert len(ingresses) == 1
    spec = ingresses[0]["spec"]
    backends = [
        path["backend"]["service"] for rule in spec["rules"] for path in rule["http"]["paths"]
    ]
    assert backends and all(b == {"name": "gateway", "port": {"number": 8000}} for b in backends)
    assert "defaultBackend" not in spec
    hosts = {h for rule in spec["rules"] for h in [rule["host"]]}
    assert hosts <= {h for t in spec["tls"] for h in t["hosts"]}, "every host has TLS"
    for svc in of_kind(objects, "Service"):
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", svc["metadata"]["name"]


def _edges(objects: list[dict]) -> set[tuple[str, str, int]]:
    """(source, target app, port) pairs that the NetworkPolicies allow."""
    pods = {app(w): pod_labels(w) for w in workloads(objects)}
    edges = set()
    for np in of_kind(objects, "NetworkPolicy"):
        spec = np["spec"]
        assert "Ingress" in spec.get("policyTypes", ["Ingress"])
        targets = [a for a, labels in pods.items() if selects(spec["podSelector"], labels)]
        for rule in spec.get("ingress", []):
            assert rule.get("from"), f"{np['metadata']['name']}: a rule without `from` admits all"
            assert rule.get("ports"), f"{np['metadata']['name']}: a rule without ports admits all"
            sources: list[str] = []
            for peer in rule["from"]:
                assert "ipBlock" not in peer, "no ipBlock peers"
                if "namespaceSelector" in peer:
                    ns = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    pod = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    sources.append(f"ns:{ns}/app:{pod}")
                else:
                    matched = [
                        a for a, labels in pods.items() if selects(peer["podSelector"], labels)
                    ]
                    assert matched, f"{np['metadata']['name']}: peer {peer} selects no pod"
                    sources += matched
            for target_app in targets:
                for source in sources:
                    for port in rule["ports"]:
                        edges.add((source, target_app, port["port"]))
    return edges


@pytest.mark.parametrize("target", list(TARGETS))
def test_network_policies_allow_exactly_the_contract_call_graph(rendered, target: str) -> None:
    objects = rendered[target]
    deny = [
        np
        for np in of_kind(objects, "NetworkPolicy")
        if np["spec"]["podSelector"] == {} and not np["spec"].get("ingress")
    ]
    assert len(deny) == 1 and deny[0]["spec"]["policyTypes"] == ["Ingress"], "default deny"
    for np in of_kind(objects, "NetworkPolicy"):
        selector = np["spec"]["podSelector"]
        if selector:
            assert any(selects(selector, pod_labels(w)) for w in workloads(objects)), (
                f"{np['metadata']['name']} selects no pod"
            )
    expected = {(INGRESS_CONTROLLER, "gateway", PORTS["gateway"])}
    for caller, callees in CALLS.items():
        for callee in callees:
            expected.add((caller, callee, PORTS[callee]))
    for service in SERVICES:
        expected |= {(service, "otel-collector", 4317), (service, "otel-collector", 4318)}
        if target == "dev":
            expected.add((service, "postgres", 5432))
    assert _edges(objects) == expected


@pytest.mark.parametrize("target", list(TARGETS))
def test_references_resolve(rendered, target: str) -> None:
    objects = rendered[target]
    present = {(o["kind"], o["metadata"]["name"]) for o in objects}
    needed: set[tuple[str, str]] = set()
    for w in workloads(objects):
        pod = w["spec"]["template"]["spec"]
        if "serviceAccountName" in pod:
            assert ("ServiceAccount", pod["serviceAccountName"]) in present
        for v in pod.get("volumes", []):
            if "persistentVolumeClaim" in v:
                needed.add(("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]))
            if "configMap" in v:
                needed.add(("ConfigMap", v["configMap"]["name"]))
            if "secret" in v:
                needed.add(("Secret", v["secret"]["secretName"]))
            for s in v.get("projected", {}).get("sources", []):
                if "secret" in s:
                    needed.add(("Secret", s["secret"]["name"]))
                if "configMap" in s:
                    needed.add(("ConfigMap", s["configMap"]["name"]))
        for c in pod["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    needed.add(("Secret", ref["secretKeyRef"]["name"]))
                if "configMapKeyRef" in ref:
                    needed.add(("ConfigMap", ref["configMapKeyRef"]["name"]))
            for e in c.get("envFrom", []):
                if "secretRef" in e:
                    needed.add(("Secret", e["secretRef"]["name"]))
                if "configMapRef" in e:
                    needed.add(("ConfigMap", e["configMapRef"]["name"]))
            mounted = {m["name"] for m in c.get("volumeMounts", [])}
            claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
            assert mounted <= {v["name"] for v in pod.get("volumes", [])} | claims
    for ingress in of_kind(objects, "Ingress"):
        for tls in ingress["spec"].get("tls", []):
            needed.add(("Secret", tls["secretName"]))
    missing = needed - present - EXTERNAL[target]
    assert not missing, f"referenced but not defined: {sorted(missing)}"
    unexpected = (needed & present) & EXTERNAL[target]
    assert not unexpected, f"documented as external but generated: {sorted(unexpected)}"


@pytest.mark.parametrize("target", list(TARGETS))
def test_images(rendered, target: str) -> None:
    for w in workloads(rendered[target]):
        for c in w["spec"]["template"]["spec"]["containers"]:
            name, tag, digest = image_parts(c["image"])
            if w["metadata"]["name"] in SERVICES:
                assert name.endswith(f"anxin/{w['metadata']['name']}")
            if target == "prod":
                assert digest or (tag and tag != "latest"), f"prod image not pinned: {c['image']}"
                assert name.startswith("registry.anxin.internal/"), c["image"]
            elif target == "dev" and w["metadata"]["name"] in SERVICES:
                assert tag == "dev", "dev runs the images docker compose builds"
            if w["metadata"]["name"] not in SERVICES:
                assert tag and tag != "latest", "third-party images are pinned everywhere"


def test_prod_is_stricter_than_base(rendered) -> None:
    base, prod = anxin_deployments(rendered["base"]), anxin_deployments(rendered["prod"])
    for name in SERVICES:
        res = container(prod[name])["resources"]
        assert res["requests"]["memory"] == res["limits"]["memory"], (
            f"{name}: prod memory requests equal limits (no overcommit)"
        )
        assert _cpu(res["requests"]["cpu"]) >= _cpu(
            container(base[name])["resources"]["requests"]["cpu"]
        )
        assert _cpu(res["requests"]["cpu"]) <= _cpu(res["limits"]["cpu"])


def _cpu(value: str | int) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_dev_database_secrets_match_the_dev_postgres(lite_builds) -> None:
    generated = lite_builds["dev"].generated
    passwords = generated[("Secret", "postgres-anxin-passwords")]
    init = (REPO / "deploy" / "postgres" / "init-databases.sh").read_text()
    services_line = re.search(r"ANXIN_SERVICES=\(([^)]*)\)", init)
    assert services_line and services_line.group(1).split() == list(SERVICES)
    assert generated[("ConfigMap", "postgres-init")]["init-databases.sh"] == init
    for name in SERVICES:
        url = urlsplit(generated[("Secret", f"anxin-{name}-db")]["url"])
        assert url.scheme == "postgresql+psycopg"
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert url.username == f"anxin_{name}" and url.path == f"/anxin_{name}"
        assert url.password == passwords[f"ANXIN_{name.upper()}_DB_PASSWORD"]
    postgres = named(lite_builds["dev"].objects, "StatefulSet", "postgres")
    env_from = container(postgres)["envFrom"]
    assert {"secretRef": {"name": "postgres-anxin-passwords"}} in env_from
    assert (
        named(lite_builds["dev"].objects, "Service", "postgres")["spec"]["ports"][0]["port"] == 5432
    )


def test_collector_config_matches_the_compose_one(lite_builds) -> None:
    data = lite_builds["base"].generated[("ConfigMap", "otel-collector-config")]["config.yaml"]
    k8s_config = yaml.safe_load(data)
    check_collector_config(k8s_config)
    compose_config = yaml.safe_load((REPO / "deploy" / "otel-collector.yaml").read_text())
    for kind in ("receivers", "processors"):
        assert k8s_config[kind] == compose_config[kind], f"{kind} differ between k8s and compose"
    for name, pipeline in k8s_config["service"]["pipelines"].items():
        other = compose_config["service"]["pipelines"][name]
        assert pipeline["processors"] == other["processors"], name
    collector = named(lite_builds["base"].objects, "Deployment", "otel-collector")
    env = env_of(container(collector))
    for exporter in k8s_config["service"]["pipelines"]["traces"]["exporters"]:
        endpoint = k8s_config["exporters"][exporter]["endpoint"]
        variable = re.fullmatch(r"\$\{env:(\w+)\}", endpoint)
        assert variable and variable.group(1) in env, "the trace backend comes from the env"
    mount = mounts_of(container(collector))
    assert any(
        arg.startswith("--config=") and Path(arg.split("=", 1)[1]).parent.as_posix() in mount
        for arg in container(collector)["args"]
    )


def test_kustomization_file_helper_finds_each_folder() -> None:
    for folder in TARGETS.values():
        assert kustomization_file(folder) is not None


# --------------------------------------------------------------------------
# Kubernetes schemas (offline: kubernetes-validate ships them), required
# settings and keys, persistence, and the PostgreSQL operator example.

# The oldest and the newest Kubernetes minor the manifests are checked against.
SCHEMA_VERSIONS = ("1.29.0", "1.37.0")


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("target", list(TARGETS))
def test_every_manifest_validates_against_the_kubernetes_schema(
    rendered, target: str, version: str
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    problems = []
    for obj in rendered[target]:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert not problems, "\n".join(problems)


def test_the_schema_check_can_fail() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    deployment = named(build(TARGETS["base"]).objects, "Deployment", "gateway")
    container(deployment)["readinessProbe"]["httpGet"]["port"] = {"name": "http"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[-1], strict=True)
    deployment = named(build(TARGETS["base"]).objects, "Deployment", "gateway")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[-1], strict=True)


def _plain_env(c: dict, name: str) -> dict[str, str]:
    """A container's environment as the process sees it (secret values stubbed)."""
    env = {}
    for key, entry in env_of(c).items():
        if "value" in entry:
            env[key] = str(entry["value"])
        elif key == db_url_var(name):
            env[key] = f"postgresql+psycopg://anxin_{name}:x@db.invalid:5432/anxin_{name}"
    return env


def _keys_folder(d: dict, env: dict[str, str]) -> set[str]:
    """File names the pod finds in /etc/anxin/keys (documented Secret contents)."""
    mounts, volumes = mounts_of(container(d)), volumes_of(d)
    files: set[str] = set()
    for source in volumes[mounts["/etc/anxin/keys"]["name"]]["projected"]["sources"]:
        secret = source["secret"]
        if secret.get("items"):
            files |= {item["path"] for item in secret["items"]}
        else:
            files |= secret_files(secret["name"], env)
    return files


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_deployment_gets_the_settings_and_keys_its_service_requires(
    rendered, target: str, tmp_path: Path
) -> None:
    for name, d in anxin_deployments(rendered[target]).items():
        env = _plain_env(container(d), name)
        for key in REQUIRED_ENV.get(name, ()):
            assert env.get(key), f"{target}/{name}: {key} must be set"
        files = _keys_folder(d, env)
        missing = required_key_files(name, env) - files
        assert not missing, f"{target}/{name}: /etc/anxin/keys lacks {sorted(missing)}"
        # The service's own settings class, with this environment and keys folder.
        settings = check_settings(name, env, files, tmp_path / target / name)
        assert settings.env == "prod"


def test_the_k8s_settings_check_fails_without_the_identity_secrets(
    lite_builds, tmp_path: Path
) -> None:
    d = anxin_deployments(lite_builds["prod"].objects)["identity"]
    env = _plain_env(container(d), "identity")
    files = _keys_folder(d, env) - {"ani-hash.key"}
    with pytest.raises(Exception, match="required"):
        check_settings("identity", env, files, tmp_path)


@pytest.mark.parametrize("target", list(TARGETS))
def test_audit_archives_and_anchors_live_on_a_persistent_volume(rendered, target: str) -> None:
    objects = rendered[target]
    claims = {o["metadata"]["name"]: o for o in of_kind(objects, "PersistentVolumeClaim")}
    for name, keys in PERSISTENT_ENV.items():
        d = anxin_deployments(objects)[name]
        env, mounts, volumes = (
            _plain_env(container(d), name),
            mounts_of(container(d)),
            volumes_of(d),
        )
        for key in keys:
            path = env[key]
            holders = [m for m in mounts if path.startswith(m.rstrip("/") + "/")]
            assert holders, f"{name}: {key} is on no volume"
            mount = mounts[max(holders, key=len)]
            assert not mount.get("readOnly")
            claim = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
            assert claim in claims, f"{name}: {key} must be on a PersistentVolumeClaim"
            # Every replica writes there: the claim must be shareable across nodes
            # (dev: node-local ReadWriteOnce on a one-node cluster).
            wanted = ["ReadWriteOnce"] if target == "dev" else ["ReadWriteMany"]
            assert claims[claim]["spec"]["accessModes"] == wanted


EXAMPLES = K8S / "examples"


def test_postgres_operator_example_is_documented_and_not_applied() -> None:
    cluster_file = EXAMPLES / "cloudnative-pg-cluster.yaml"
    docs = [d for d in yaml.safe_load_all(cluster_file.read_text(encoding="utf-8")) if d]
    clusters = [d for d in docs if d["kind"] == "Cluster"]
    assert len(clusters) == 1 and clusters[0]["apiVersion"] == "postgresql.cnpg.io/v1"
    cluster = clusters[0]
    assert cluster["metadata"]["namespace"] == "anxin"
    assert cluster["spec"]["instances"] >= 3, "production: a primary and two standbys"
    assert cluster["spec"]["storage"]["size"]
    assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"]
    # One role and one database per service, owned by that role.
    roles = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    assert roles == {f"anxin_{s}" for s in SERVICES}
    databases = [d for d in docs if d["kind"] == "Database"]
    assert {(d["spec"]["name"], d["spec"]["owner"]) for d in databases} == {
        (f"anxin_{s}", f"anxin_{s}") for s in SERVICES
    }
    assert all(d["spec"]["cluster"]["name"] == cluster["metadata"]["name"] for d in databases)
    # The namespace denies ingress by default: the example opens 5432 to the five services.
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert policies, "the example must let the services (and the operator) reach PostgreSQL"
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for policy in policies:
        kubernetes_validate.validate(policy, SCHEMA_VERSIONS[-1], strict=True)
    callers = {
        peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
        for policy in policies
        for rule in policy["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
    }
    assert set(SERVICES) <= callers
    # Not part of any kustomization (applied by hand, on purpose).
    for folder in kustomization_dirs():
        text = kustomization_file(folder).read_text(encoding="utf-8")  # type: ignore[union-attr]
        assert "examples" not in text, f"{folder} applies the example"
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    assert "examples/cloudnative-pg-cluster.yaml" in readme


def _json_patch_add(obj: dict, operations: list[dict]) -> dict:
    """Apply JSON 6902 `add` operations (the only kind the shadow example uses)."""
    import copy

    obj = copy.deepcopy(obj)
    for op in operations:
        assert op["op"] == "add"
        *parents, last = op["path"].strip("/").split("/")
        node: Any = obj
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if last == "-":
            node.append(copy.deepcopy(op["value"]))
        else:
            node[last] = copy.deepcopy(op["value"])
    return obj


def test_the_policy_shadow_example_patches_every_service(tmp_path: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    patch_file = EXAMPLES / "policy-shadow.patch.yaml"
    operations = yaml.safe_load(patch_file.read_text(encoding="utf-8"))
    if REAL is not None:
        # The way the example says to use it, from an overlay on top of prod.
        overlay = tmp_path / "shadow"
        overlay.mkdir()
        candidate = tmp_path / "candidate"
        shutil.copytree(POLICIES, candidate, ignore=shutil.ignore_patterns("tests", "*.md"))
        files = sorted(p.name for p in candidate.iterdir() if p.is_file())
        (overlay / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": [os.path.relpath(TARGETS["prod"], overlay)],
                    "patches": [
                        {
                            "path": os.path.relpath(patch_file, overlay),
                            "target": {
                                "kind": "Deployment",
                                "name": "gateway|identity|consent|profile|audit",
                            },
                        }
                    ],
                    "configMapGenerator": [
                        {
                            "name": "anxin-policies-shadow",
                            "options": {"disableNameSuffixHash": True},
                            "files": [os.path.relpath(candidate / f, overlay) for f in files],
                        }
                    ],
                }
            ),
            encoding="utf-8",
        )
        objects = real_build(overlay, REAL)
    else:
        objects = [
            _json_patch_add(o, operations)
            if o["kind"] == "Deployment" and o["metadata"]["name"] in SERVICES
            else o
            for o in build(TARGETS["prod"]).objects
        ]
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "anxin-policies-shadow", "namespace": "anxin"},
                "data": {},
            }
        )
    present = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("ConfigMap", "anxin-policies-shadow") in present
    deployments = anxin_deployments(objects)
    assert set(deployments) == set(SERVICES)
    for d in deployments.values():
        c = container(d)
        assert env_of(c)["ANXIN_POLICY_SHADOW_DIR"]["value"] == "/etc/anxin/policies-shadow"
        mount = mounts_of(c)["/etc/anxin/policies-shadow"]
        assert mount.get("readOnly") is True and "subPath" not in mount
        volume = volumes_of(d)[mount["name"]]
        assert volume["configMap"]["name"] == "anxin-policies-shadow"
        kubernetes_validate.validate(d, SCHEMA_VERSIONS[-1], strict=True)
    collector = named(objects, "Deployment", "otel-collector")
    assert "ANXIN_POLICY_SHADOW_DIR" not in env_of(container(collector))
