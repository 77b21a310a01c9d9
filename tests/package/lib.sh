# Shared by the package tests (sourced): checks, the system PostgreSQL cluster, and putting the
# machine back as it was — the package purged, its database, roles and directories removed, and
# the cluster stopped again if it was down when the test began. Set `scratch` to a directory
# to remove as well.
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
fail() { echo "FAIL: $*" >&2; exit 1; }
psql_su() { runuser -u postgres -- psql -qtAX "$@"; }

cluster_up() {
    if ! pg_lsclusters -h | grep -q ' online '; then
        local v n
        read -r v n _ < <(pg_lsclusters -h | head -1)
        if [ -z "${v:-}" ]; then
            v=$(ls /usr/lib/postgresql | sort -n | tail -1); n=main
            pg_createcluster "$v" "$n" >/dev/null
        fi
        pg_ctlcluster "$v" "$n" start
    fi
}
cluster_down() {
    local v n
    read -r v n _ < <(pg_lsclusters -h | grep ' online ' | head -1)
    pg_ctlcluster "$v" "$n" stop
}

cleanup() {
    pkill -u clinicbox -x clinicbox 2>/dev/null && sleep 0.5
    dpkg --purge clinicbox >/dev/null 2>&1 || true
    cluster_up >/dev/null 2>&1 || true
    psql_su -c 'DROP DATABASE IF EXISTS clinicbox WITH (FORCE)' >/dev/null 2>&1 || true
    for r in $(psql_su -c "SELECT rolname FROM pg_roles WHERE rolname LIKE 'clinicbox\_t\_%' OR rolname IN ('clinicbox_auditor', 'clinicbox_provisioner', 'clinicbox_audit')" 2>/dev/null); do
        psql_su -c "DROP ROLE \"$r\"" >/dev/null 2>&1 || true
    done
    psql_su -c 'DROP ROLE IF EXISTS clinicbox' >/dev/null 2>&1 || true
    rm -rf /var/lib/clinicbox /var/log/clinicbox /etc/clinicbox "${scratch:-}"
}

was_up=0
pg_lsclusters -h 2>/dev/null | grep -q ' online ' && was_up=1
stop_cluster_if_we_started() {
    [ "$was_up" = 1 ] && return 0
    pg_lsclusters -h 2>/dev/null | awk '$4 == "online" { print $1, $2 }' | while read -r v n; do
        pg_ctlcluster "$v" "$n" stop || true
    done
}
trap 'cleanup; stop_cluster_if_we_started' EXIT
cleanup
