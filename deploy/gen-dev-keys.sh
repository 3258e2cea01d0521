#!/usr/bin/env bash
# Generates DEVELOPMENT signing keys (ECDSA P-256, PEM) for docker compose and
# the dev Kubernetes overlay. Never use these keys outside a developer machine.
#
#   deploy/gen-dev-keys.sh [KEYS_DIR]          (default: deploy/keys)
#   ANXIN_DEV_CLIENTS="crm-dev ivr-dev" deploy/gen-dev-keys.sh
#
# Layout written (existing key pairs are kept; delete KEYS_DIR to rotate):
#   KEYS_DIR/_source/<name>.key.pem, <name>.pub.pem   every key pair, with
#            <name> in gateway identity consent profile audit idp
#   KEYS_DIR/_source/clients/<client_id>.key.pem, .pub.pem
#   KEYS_DIR/<service>/                  what one service sees at /etc/anxin/keys:
#       <service>.key.pem                its own private signing key, and no other
#       <every service>.pub.pem, idp.pub.pem
#       clients/<client_id>.pub.pem
#       identity also: ani-hash.key, otp.key, voiceprint.key (base64 secrets)
#       audit also: audit-checkpoint.ed25519.pem (signs checkpoints)
# docker compose mounts KEYS_DIR/<service> read-only at /etc/anxin/keys.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
keys_dir="${1:-${here}/keys}"
services=(gateway identity consent profile audit)
read -r -a clients <<<"${ANXIN_DEV_CLIENTS:-crm-dev}"
src="${keys_dir}/_source"

command -v openssl >/dev/null || { echo "gen-dev-keys: openssl not found" >&2; exit 1; }

umask 077
mkdir -p "${src}/clients"

keypair() { # keypair <path without suffix>
    if [[ ! -f "$1.key.pem" ]]; then
        # P-256 (ES256), stored as PKCS#8 like the services' own dev keys.
        openssl ecparam -name prime256v1 -genkey -noout \
            | openssl pkcs8 -topk8 -nocrypt -out "$1.key.pem"
        openssl ec -in "$1.key.pem" -pubout -out "$1.pub.pem" 2>/dev/null
        echo "gen-dev-keys: new key pair $1"
    fi
}

for name in "${services[@]}" idp; do
    keypair "${src}/${name}"
done
for client in "${clients[@]}"; do
    keypair "${src}/clients/${client}"
done
secret() { # secret <path>: 32 random bytes, base64 (HMAC and AES-256 keys)
    if [[ ! -f "$1" ]]; then
        openssl rand -base64 32 >"$1"
        echo "gen-dev-keys: new secret $1"
    fi
}
# identity: the ANI and one-time-code HMAC keys and the voiceprint encryption key.
secret "${src}/ani-hash.key"
secret "${src}/otp.key"
secret "${src}/voiceprint.key"
# audit: the Ed25519 key that signs checkpoints.
if [[ ! -f "${src}/audit-checkpoint.ed25519.pem" ]]; then
    openssl genpkey -algorithm ed25519 -out "${src}/audit-checkpoint.ed25519.pem"
    echo "gen-dev-keys: new key ${src}/audit-checkpoint.ed25519.pem"
fi

for service in "${services[@]}"; do
    out="${keys_dir}/${service}"
    rm -rf "${out}"
    mkdir -p "${out}/clients"
    cp "${src}/${service}.key.pem" "${out}/"
    cp "${src}"/*.pub.pem "${out}/"
    cp "${src}"/clients/*.pub.pem "${out}/clients/"
    case "${service}" in
        identity) cp "${src}/ani-hash.key" "${src}/otp.key" "${src}/voiceprint.key" "${out}/" ;;
        audit) cp "${src}/audit-checkpoint.ed25519.pem" "${out}/" ;;
    esac
    # The containers run as uid 10001, not as the developer: on this dev-only
    # copy, make the files world-readable so the bind mount can be read.
    chmod 0755 "${out}" "${out}/clients"
    chmod 0644 "${out}"/*.pem "${out}"/clients/*.pem
    chmod 0644 "${out}"/*.key 2>/dev/null || true
done
echo "gen-dev-keys: wrote ${keys_dir}/{$(IFS=,; echo "${services[*]}")}"
