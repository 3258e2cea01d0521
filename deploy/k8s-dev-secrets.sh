#!/usr/bin/env bash
# Prints the key Secrets that the Kubernetes manifests expect, built from the
# DEVELOPMENT keys of deploy/gen-dev-keys.sh. Apply them to a dev cluster:
#
#   deploy/gen-dev-keys.sh
#   deploy/k8s-dev-secrets.sh | kubectl apply -f -
#
# Secrets (namespace anxin):
#   anxin-<service>-signing-key  key <service>.key.pem   (one per service)
#   anxin-public-keys            <service>.pub.pem for all five, idp.pub.pem
#   anxin-client-keys            <client_id>.pub.pem, mounted at keys/clients/
# In production the same Secrets come from the group's key management (e.g.
# External Secrets from Vault/KMS); the private keys never exist outside it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="${1:-${here}/keys}/_source"
namespace="${ANXIN_NAMESPACE:-anxin}"
services=(gateway identity consent profile audit)

[[ -d "${src}" ]] || { echo "k8s-dev-secrets: run deploy/gen-dev-keys.sh first" >&2; exit 1; }

secret() { # secret <name> <--from-file args...>
    local name="$1"; shift
    kubectl create secret generic "${name}" --namespace "${namespace}" \
        --dry-run=client --output yaml "$@"
    echo "---"
}

for service in "${services[@]}"; do
    secret "anxin-${service}-signing-key" --from-file="${src}/${service}.key.pem"
done
public=()
for name in "${services[@]}" idp; do
    public+=(--from-file="${src}/${name}.pub.pem")
done
secret anxin-public-keys "${public[@]}"
secret anxin-client-keys --from-file="${src}/clients/"
