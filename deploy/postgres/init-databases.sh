#!/usr/bin/env bash
# Creates one role and one database per Anxin service:
#   role anxin_<service>  (LOGIN, password from $ANXIN_<SERVICE>_DB_PASSWORD)
#   database anxin_<service>, owned by that role, closed to everyone else.
#
# Run by the official postgres image from /docker-entrypoint-initdb.d/ on the
# FIRST start of an empty data directory only (docker compose, and the dev
# overlay's StatefulSet). Production databases come from the platform's
# PostgreSQL operator or managed service: see k8s/README.md.
#
# Environment: POSTGRES_USER, POSTGRES_DB (set by the image), and one
# ANXIN_<SERVICE>_DB_PASSWORD per service below.
set -euo pipefail

ANXIN_SERVICES=(gateway identity consent profile audit)

psql_admin() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" "$@"
}

for service in "${ANXIN_SERVICES[@]}"; do
    password_var="ANXIN_${service^^}_DB_PASSWORD"
    password="${!password_var:?${password_var} must be set}"
    role="anxin_${service}"
    database="anxin_${service}"

    echo "init-databases: role ${role}, database ${database}"
    # psql variables (:"name" identifiers, :'name' literals) quote safely.
    psql_admin --dbname "${POSTGRES_DB:-postgres}" \
        -v role="${role}" -v password="${password}" -v database="${database}" <<'EOSQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"role";
EOSQL
    # The service owns its schema; nobody else may create objects there.
    psql_admin --dbname "${database}" -v role="${role}" <<'EOSQL'
ALTER SCHEMA public OWNER TO :"role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"role";
EOSQL
done
