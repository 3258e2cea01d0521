#!/usr/bin/env bash
# Generates DEVELOPMENT signing keys (ECDSA P-256, PEM) for docker compose and
# the dev Kubernetes overlay. Never use these keys outside a developer machine.
#
#   deploy/gen-dev-keys.sh [KEYS_DIR]          (default: deploy/keys)
#   ANXIN_DEV_CLIENTS="crm-dev ivr-dev" deploy/gen-dev-keys.sh
#
# Layout written (existing key pairs are kept; rotation: deploy/README.md):
#   KEYS_DIR/_source/<name>.key.pem, <name>.pub.pem   every key pair, with
#            <name> in gateway identity consent profile audit idp
#   KEYS_DIR/_source/clients/<client_id>.key.pem, .pub.pem
#   KEYS_DIR/<service>/                  what one service sees at /etc/anxin/keys:
#       <service>.key.pem                its own private signing key, and no other
#                                        (plus <service>.<suffix>.key.pem when rotating)
#       <every service>.pub.pem, idp.pub.pem   (and any <name>.<suffix>.pub.pem)
#       clients/<client_id>.pub.pem
#       identity also: ani-hash.key, otp.key, voiceprint.key (base64 secrets)
#       audit also: audit-checkpoint.ed25519.pem and .pub.pem (signs checkpoints)
# Rotation by hand (deploy/README.md, "Rotating keys"): put <name>.<suffix>.key.pem and
# .pub.pem into _source/ and run this script again to lay them out.
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

shopt -s nullglob
keypair() { # keypair <path without suffix>: unless it has a key already (<name> or rotated)
    local rotated=("$1".*.key.pem)
    if [[ ! -f "$1.key.pem" && ${#rotated[@]} -eq 0 ]]; then
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
# Its public half is shipped too: the keys folder is read-only in a container, so the
# service cannot write it there (and `anxin audit verify` needs it).
if [[ ! -f "${src}/audit-checkpoint.ed25519.pem" ]]; then
    openssl genpkey -algorithm ed25519 -out "${src}/audit-checkpoint.ed25519.pem"
    echo "gen-dev-keys: new key ${src}/audit-checkpoint.ed25519.pem"
fi
if [[ ! -f "${src}/audit-checkpoint.ed25519.pub.pem" ]]; then
    openssl pkey -in "${src}/audit-checkpoint.ed25519.pem" -pubout \
        -out "${src}/audit-checkpoint.ed25519.pub.pem"
fi

for service in "${services[@]}"; do
    out="${keys_dir}/${service}"
    # Laid out in a staging folder, then copied over the live one and pruned: the
    # folder itself is never replaced, because running containers bind-mount it
    # (a rotation re-runs this script while the stack runs).
    final="${out}"
    out="$(mktemp -d "${keys_dir}/.${service}.XXXXXX")"
    mkdir -p "${out}/clients"
    # Its own private key(s) <kid>.key.pem (a rotated key is <service>.<suffix>.key.pem),
    # and every issuer's public keys (the audit checkpoint key goes to audit only).
    for private in "${src}/${service}".key.pem "${src}/${service}".*.key.pem; do
        [[ -f "${private}" ]] && cp "${private}" "${out}/"
    done
    for public in "${src}"/*.pub.pem; do
        [[ "$(basename "${public}")" == audit-checkpoint.* ]] || cp "${public}" "${out}/"
    done
    cp "${src}"/clients/*.pub.pem "${out}/clients/"
    case "${service}" in
        identity) cp "${src}/ani-hash.key" "${src}/otp.key" "${src}/voiceprint.key" "${out}/" ;;
        audit) cp "${src}"/audit-checkpoint.ed25519{,.pub}.pem "${out}/" ;;
    esac
    # The containers run as uid 10001, not as the developer: on this dev-only
    # copy, make the files world-readable so the bind mount can be read.
    chmod 0755 "${out}" "${out}/clients"
    chmod 0644 "${out}"/*.pem "${out}"/clients/*.pem
    chmod 0644 "${out}"/*.key 2>/dev/null || true
    mkdir -p "${final}/clients"
    chmod 0755 "${final}" "${final}/clients"
    cp -p "${out}"/*.* "${final}/"
    cp -p "${out}"/clients/*.pem "${final}/clients/"
    # Drop what is no longer in _source/ (a retired key).
    for file in "${final}"/* "${final}"/clients/*; do
        [[ -f "${file}" ]] || continue
        [[ -e "${out}/${file#"${final}/"}" ]] || rm -f "${file}"
    done
    rm -rf "${out}"
done
echo "gen-dev-keys: wrote ${keys_dir}/{$(IFS=,; echo "${services[*]}")}"
