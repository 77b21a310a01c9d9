#!/usr/bin/env bash
# The .deb on this machine, for real: install (user, config with secrets, role and database
# through the postgres peer account, migrations), serve + readiness + `clinicbox check`, an
# upgrade whose pre-upgrade backup fails (aborted, nothing changed) and one that succeeds
# (backup taken, data intact), then purge (user and config gone, data and database kept).
#
#   tests/package/deb.sh path/to/clinicbox_X_amd64.deb
#
# Needs root and Debian's postgresql (cluster 15/main is started with pg_ctlcluster if down).
# Leaves the machine as it found it: the package purged, the database and data removed.
set -euo pipefail
deb="$(readlink -f "$1")"
. "$(dirname "$0")/lib.sh"
work="$(mktemp -d /tmp/clinicbox-deb.XXXXXX)"; scratch="$work"
cluster_up

echo "== install"
CB_INSTALL_DOMAIN=admin.clinics.test CB_INSTALL_EMAIL=ops@clinics.test \
    dpkg -i "$deb" | tee "$work/install.log"
getent passwd clinicbox >/dev/null || fail "no clinicbox user"
ok "system user clinicbox"
[ "$(stat -c '%a %U %G' /etc/clinicbox/clinicbox.toml)" = "640 root clinicbox" ] || fail "config mode $(stat -c '%a %U %G' /etc/clinicbox/clinicbox.toml)"
[ "$(stat -c '%a %U %G' /etc/clinicbox/secret.key)" = "640 root clinicbox" ] || fail "key mode"
grep -q '^console_host = "admin.clinics.test"' /etc/clinicbox/clinicbox.toml || fail "console_host not written"
grep -q '^base_domain = "clinics.test"' /etc/clinicbox/clinicbox.toml || fail "base_domain not written"
grep -Eq '^metrics_token = "[0-9a-f]{48}"' /etc/clinicbox/clinicbox.toml || fail "no generated metrics token"
ok "config 0640 root:clinicbox with generated secrets"
[ "$(psql_su -c "SELECT rolinherit::text || rolcreaterole::text || rolcreatedb::text || rolsuper::text FROM pg_roles WHERE rolname = 'clinicbox'")" = "falsefalsetruefalse" ] || fail "role attributes"
ok "role clinicbox NOINHERIT CREATEDB, neither CREATEROLE nor superuser"
cb() { runuser -u clinicbox -- clinicbox --config /etc/clinicbox/clinicbox.toml "$@"; }
cb migrate | grep -q "up to date\|nothing to do\|0 clinic" || true
cb tenant create north --name "North Clinic" >/dev/null
ok "migrated; a clinic created as the clinicbox user (peer authentication)"

echo "== serve"
port=18$((RANDOM % 900 + 100))
CLINICBOX_TLS_MODE=off CLINICBOX_SERVER_HTTP_LISTEN="127.0.0.1:$port" \
    runuser -u clinicbox -- clinicbox --config /etc/clinicbox/clinicbox.toml serve >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"ready"' || { cat "$work/serve.log"; fail "not ready"; }
ok "serve answers /readyz"
CLINICBOX_TLS_MODE=off CLINICBOX_SERVER_HTTP_LISTEN="127.0.0.1:$port" \
    runuser -u clinicbox -- clinicbox --config /etc/clinicbox/clinicbox.toml check --no-dns | tee "$work/check.log" || true
grep -q '^OK   database ' "$work/check.log" || fail "check: database"
grep -q '^OK   listener http' "$work/check.log" || fail "check: listener"
grep -q '^OK   migrations' "$work/check.log" || fail "check: migrations"
ok "clinicbox check"
kill "$serve_pid"; wait "$serve_pid" || true

echo "== upgrade, pre-upgrade backup fails"
cp "$deb" "$work/next.deb"
mkdir "$work/x" && dpkg-deb -R "$deb" "$work/x"
sed -i 's/^Version: \(.*\)-1$/Version: \1-2/' "$work/x/DEBIAN/control"
dpkg-deb -b --root-owner-group "$work/x" "$work/next.deb" >/dev/null
cluster_down
if dpkg -i "$work/next.deb" >"$work/up1.log" 2>&1; then fail "upgrade went ahead without a backup"; fi
grep -q "pre-upgrade backup failed" "$work/up1.log" || { cat "$work/up1.log"; fail "no explanation"; }
[ "$(dpkg-query -W -f='${Version}' clinicbox)" = "$(dpkg-deb -f "$deb" Version)" ] || fail "version changed"
ok "failed pre-upgrade backup aborts the upgrade; the installed version is unchanged"
cluster_up

echo "== upgrade"
dpkg -i "$work/next.deb" | tee "$work/up2.log"
ls /var/lib/clinicbox/backups/ | grep -q -- '-pre-upgrade.backup.tar' || fail "no pre-upgrade backup"
cb tenant show north | grep -q "North Clinic" || fail "clinic lost"
f=$(ls /var/lib/clinicbox/backups/*-pre-upgrade.backup.tar | head -1)
cb backup verify "$f" | grep -q '^OK ' || fail "pre-upgrade backup does not verify"
ok "upgrade took a pre-upgrade backup (verified) and kept the data"

echo "== purge"
dpkg --purge clinicbox >"$work/purge.log"
getent passwd clinicbox >/dev/null && fail "user left"
[ -e /etc/clinicbox/clinicbox.toml ] && fail "config left"
[ -d /var/lib/clinicbox/backups ] || fail "data directory removed"
[ -f /var/lib/clinicbox/secret.key.from-purge ] || fail "secret key not kept"
[ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = 'clinicbox'")" = "1" ] || fail "database dropped"
ok "purge removed user and config, kept data, key and database"
echo "deb: $pass checks passed"
