#!/usr/bin/env bash
# Prints the key Secrets that the Kubernetes manifests expect, built from the
# DEVELOPMENT keys of deploy/gen-dev-keys.sh. Apply them to a dev cluster:
#
#   deploy/gen-dev-keys.sh
#   deploy/k8s-dev-secrets.sh | kubectl apply -f -
#
# Secrets (namespace anxin):
#   anxin-<service>-signing-key  key <service>.key.pem   (one per service; plus any
#                                <service>.<suffix>.key.pem while rotating)
#   anxin-public-keys            <name>.pub.pem for the five and idp (and <name>.<suffix>.pub.pem)
#   anxin-client-keys            <client_id>.pub.pem, mounted at keys/clients/
#   anxin-identity-secrets       ani-hash.key, otp.key, voiceprint.key
#   anxin-audit-checkpoint-key   audit-checkpoint.ed25519.pem, audit-checkpoint.ed25519.pub.pem
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

shopt -s nullglob
for service in "${services[@]}"; do
    private=(--from-file="${src}/${service}.key.pem")
    for rotated in "${src}/${service}".*.key.pem; do
        private+=(--from-file="${rotated}")
    done
    secret "anxin-${service}-signing-key" "${private[@]}"
done
public=()
for name in "${services[@]}" idp; do
    for file in "${src}/${name}.pub.pem" "${src}/${name}".*.pub.pem; do
        public+=(--from-file="${file}")
    done
done
secret anxin-public-keys "${public[@]}"
# Public halves only: the clients' private keys stay with the clients.
clients=()
for file in "${src}"/clients/*.pub.pem; do
    clients+=(--from-file="${file}")
done
secret anxin-client-keys "${clients[@]}"
secret anxin-identity-secrets --from-file="${src}/ani-hash.key" \
    --from-file="${src}/otp.key" --from-file="${src}/voiceprint.key"
secret anxin-audit-checkpoint-key --from-file="${src}/audit-checkpoint.ed25519.pem" \
    --from-file="${src}/audit-checkpoint.ed25519.pub.pem"
