#!/usr/bin/env bash
# The offline data of the compile-time checked SQL (`sqlx::query!` and friends) in `.sqlx/`.
#
#   scripts/sqlx-prepare.sh          rewrite .sqlx/ from the current queries and migrations
#   scripts/sqlx-prepare.sh --check  fail if .sqlx/ is stale (CI runs this)
#   scripts/sqlx-prepare.sh --db     only build the database, leave it running and print the
#                                    DATABASE_URL to compile against while writing queries
#
# Builds a throwaway PostgreSQL cluster the way an installation is built — the superuser setup
# (migrations/privileged/setup.sql), every control migration, and one template clinic
# ("template") with every clinic migration applied under its own role — then compiles the crate
# against it with the search path of a clinic transaction (`tenant_template`,
# `tenant_template_audit`, `extensions`), so that clinic queries are checked against a real
# clinic schema and control-plane queries (always written `clinicbox.…`) against the control
# schema. Only psql is used to build the database: the crate itself cannot compile before its
# offline data exists. Needs PostgreSQL's server binaries and runs initdb as `postgres` when
# started as root.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-write}"
case "$mode" in write | --check | --db) ;; *) echo "usage: $0 [--check | --db]" >&2; exit 2 ;; esac

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
root=$(mktemp -d /tmp/clinicbox-sqlx.XXXXXX)
chmod 755 "$root"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$root"
cleanup() {
    as_pg "$bin/pg_ctl" -D "$root/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$root"
}
[ "$mode" = --db ] || trap cleanup EXIT

as_pg "$bin/initdb" -D "$root/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$bin/pg_ctl" -D "$root/data" -l "$root/log" -w \
    -o "-k $root -c listen_addresses='' -c fsync=off" start >/dev/null
export PGOPTIONS='-c client_min_messages=warning'
psql_as() { local user="$1"; shift; "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$root" -U "$user" -d clinicbox "$@"; }

"$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$root" -U postgres -d postgres \
    -c "CREATE ROLE clinicbox LOGIN NOINHERIT CREATEDB" \
    -c "CREATE DATABASE clinicbox OWNER clinicbox TEMPLATE template0 ENCODING 'UTF8'"
sed 's/@LOGIN@/clinicbox/g' migrations/privileged/setup.sql | psql_as postgres >/dev/null
# What the migration runner creates before the first control migration
# (db::migrate::ensure_control_bookkeeping).
psql_as clinicbox -c "CREATE SCHEMA IF NOT EXISTS clinicbox" -c "CREATE TABLE clinicbox.schema_migrations (
    version bigint PRIMARY KEY, name text NOT NULL, checksum bytea NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"
for f in $(ls migrations/control/*.sql | sort); do
    psql_as clinicbox -1 -f "$f" >/dev/null
done
psql_as clinicbox -c "SELECT clinicbox_priv.create_clinic_role('clinicbox_t_template')" >/dev/null
psql_as clinicbox -c 'CREATE SCHEMA tenant_template AUTHORIZATION clinicbox_t_template'
{
    echo "SET ROLE clinicbox_t_template; SET search_path = tenant_template, extensions;"
    for f in $(ls migrations/tenant/*.sql | sort); do cat "$f"; echo; done
} | psql_as clinicbox -1 >/dev/null

# The clinic transaction's search path (db::TenantDb::begin), as the superuser so that every
# schema can be described.
path='tenant_template%2Ctenant_template_audit%2Cextensions'
export DATABASE_URL="postgres://postgres@localhost/clinicbox?host=$root&options=-c%20search_path%3D$path"
if [ "$mode" = --db ]; then
    echo "export DATABASE_URL='$DATABASE_URL' SQLX_OFFLINE=false"
    echo "# stop with: $bin/pg_ctl -D $root/data stop"
    exit 0
fi
export SQLX_OFFLINE=false
out="$root/sqlx"
mkdir -p "$out"
export SQLX_OFFLINE_DIR="$out"
# A target dir of its own, and every source touched, so that every query macro runs again.
export CARGO_TARGET_DIR="${SQLX_TARGET_DIR:-/var/tmp/clinicbox-sqlx-target}"
find src -name '*.rs' -exec touch {} +
cargo check --locked --quiet --lib

if [ "$mode" = --check ]; then
    if ! diff -r -q .sqlx "$out" >/dev/null 2>&1; then
        echo "the offline query data in .sqlx/ is stale; run scripts/sqlx-prepare.sh and commit .sqlx/" >&2
        diff -r -q .sqlx "$out" >&2 || true
        exit 1
    fi
    echo ".sqlx/ is current ($(ls "$out" | wc -l) queries)"
else
    rm -rf .sqlx
    mkdir -p .sqlx
    cp "$out"/*.json .sqlx/ 2>/dev/null || true
    echo "wrote .sqlx/ ($(ls .sqlx | wc -l) queries)"
fi
