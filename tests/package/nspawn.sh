#!/usr/bin/env bash
# The .deb run_in a clean Debian 12 system booted with systemd (systemd-nspawn --boot, private
# network): install.sh, its re-run, an upgrade whose pre-upgrade backup fails (refused, and the
# service runs again), an upgrade that succeeds, remove, purge, a reinstall after another system
# user took the freed UID (kept key reused, kept files re-owned, service up, old backups read),
# and a second purge that keeps the earlier kept key.
#
#   tests/package/nspawn.sh path/to/clinicbox_X_amd64.deb
#
# Needs root, debootstrap and systemd-container. The clean root is made with debootstrap from the
# mirror this machine's apt sources name, once, and cached (tarball) in $CLINICBOX_CI_CACHE
# (default /var/tmp/clinicbox-ci); every run boots a fresh copy and removes it afterwards.
set -euo pipefail
deb="$(readlink -f "$1")"
root_dir="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${CLINICBOX_CI_CACHE:-/var/tmp/clinicbox-ci}"
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
fail() { echo "FAIL: $*" >&2; dump_logs; exit 1; }

# What a fresh VPS has, plus what the package depends on or recommends (apt cannot download
# inside: the network is private).
packages="systemd,systemd-sysv,dbus,postgresql,postgresql-client,adduser,ca-certificates,procps,curl,iproute2,libcap2-bin,ufw"
mkdir -p "$cache"
tarball="$cache/bookworm-$(echo "$packages" | sha256sum | cut -c1-12).tar"

mirror() {
    local m=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
        m=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
    fi
    [ -n "$m" ] || { echo "no Debian mirror run_in this machine's apt sources" >&2; exit 1; }
    echo "$m"
}

if [ ! -s "$tarball" ]; then
    echo "== debootstrap bookworm (once; cached in $tarball)"
    build="$(mktemp -d /var/tmp/clinicbox-debootstrap.XXXXXX)"
    chmod 0755 "$build"
    debootstrap --variant=minbase --include="$packages" bookworm "$build" "$(mirror)" >"$cache/debootstrap.log" 2>&1 \
        || { tail -20 "$cache/debootstrap.log"; rm -rf "$build"; exit 1; }
    tar -C "$build" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$build"
fi

machine="cbx$$"
guest="$(mktemp -d /var/tmp/clinicbox-guest.XXXXXX)"
nspawn_pid=""
leader=""
cleanup() {
    if [ -n "$leader" ] && [ -d "/proc/$leader" ]; then
        kill -RTMIN+4 "$leader" 2>/dev/null || true   # systemd: poweroff
        for _ in $(seq 1 50); do [ -d "/proc/$nspawn_pid" ] || break; sleep 0.2; done
    fi
    [ -n "$nspawn_pid" ] && kill -KILL "$nspawn_pid" 2>/dev/null || true
    rm -rf "$guest"
}
trap cleanup EXIT
tar -C "$guest" -xf "$tarball"
# A root directory others cannot enter (mktemp's 0700) would lock out every system user.
chmod 0755 "$guest"
echo "$machine" > "$guest/etc/hostname"
mkdir -p "$guest/root/pkg"
cp "$deb" "$guest/root/pkg/clinicbox.deb"
cp "$root_dir/install.sh" "$guest/root/pkg/install.sh"
# The next version: the same package with a higher version number.
work="$guest/root/pkg/next"
mkdir -p "$work"
dpkg-deb -R "$deb" "$work/x"
sed -i 's/^Version: \(.*\)-1$/Version: \1-2/' "$work/x/DEBIAN/control"
dpkg-deb -b --root-owner-group "$work/x" "$guest/root/pkg/clinicbox-next.deb" >/dev/null
rm -rf "$work"

echo "== boot (systemd-nspawn --boot --private-network)"
systemd-nspawn --quiet --boot --register=no --keep-unit --private-network \
    -D "$guest" -M "$machine" --console=passive >"$cache/$machine.console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 1 100); do
    leader=$(pgrep -P "$nspawn_pid" | head -1 || true)
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { cat "$cache/$machine.console.log"; echo "the container did not start" >&2; exit 1; }
run_in() { nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
sh_in() { run_in /bin/bash -c "$1"; }
dump_logs() {
    [ -n "$leader" ] || return 0
    echo "--- journal (clinicbox):" >&2
    run_in journalctl -u clinicbox --no-pager -n 40 >&2 2>/dev/null || true
}
for _ in $(seq 1 100); do
    state=$(run_in systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.2
done
# debootstrap configures packages in a chroot, where postgresql-common makes no cluster; an
# installed system has one.
run_in test -f /etc/postgresql/15/main/postgresql.conf || run_in pg_createcluster 15 main >/dev/null
run_in systemctl is-active --quiet postgresql@15-main || run_in systemctl start postgresql@15-main
ok "clean Debian 12 booted with systemd ($(run_in systemctl is-system-running || true)), PostgreSQL up"

cb() { run_in runuser -u clinicbox -- clinicbox --config /etc/clinicbox/clinicbox.toml "$@"; }
active() { run_in systemctl is-active --quiet clinicbox.service; }
wait_active() {
    for _ in $(seq 1 100); do
        active && cb check --no-dns >/dev/null 2>&1 && return 0
        active && run_in curl -fsS -o /dev/null http://127.0.0.1/healthz && return 0
        sleep 0.2
    done
    return 1
}

echo "== install.sh"
sh_in "/root/pkg/install.sh --non-interactive --domain admin.clinics.test --email ops@clinics.test /root/pkg/clinicbox.deb" \
    >"$cache/$machine.install1.log" 2>&1 || { cat "$cache/$machine.install1.log"; fail "install.sh"; }
grep -q "ClinicBox is installed." "$cache/$machine.install1.log" || fail "no summary"
link=$(grep -Eo 'https://admin.clinics.test/setup/[A-Za-z0-9_-]+' "$cache/$machine.install1.log" | head -1)
[ -n "$link" ] || { cat "$cache/$machine.install1.log"; fail "no setup link"; }
active || fail "service not active after install.sh"
ok "install.sh: service active under systemd, setup link printed"

# The first operator, from the console with the setup link (as the operator would run_in a browser).
token="${link##*/}"
run_in curl -fsS -o /dev/null -k --resolve admin.clinics.test:443:127.0.0.1 "https://admin.clinics.test/setup/$token" \
    || fail "setup link does not open"
run_in journalctl -u clinicbox --no-pager | grep -q "$token" && fail "the setup token is run_in the journal"
run_in grep -rqs "$token" /var/log/clinicbox && fail "the setup token is run_in /var/log/clinicbox"
ok "opening the setup link does not write its token to the journal or the log files"
printf 'velvet-harbor-piano-73\n' > "$guest/etc/cbx-test-password"
chmod 0644 "$guest/etc/cbx-test-password"
cb operator add --email ops@clinics.test --name "Ops" --password-file /etc/cbx-test-password >/dev/null || fail "operator add"
rm -f "$guest/etc/cbx-test-password"
cb tenant create north --name "North Clinic" >/dev/null
cb backup run --reason manual >/dev/null || fail "first backup"
first_backup=$(run_in ls /var/lib/clinicbox/backups | grep -- "-manual.backup.tar" | head -1)
ok "an operator, a clinic and a backup"

echo "== install.sh again"
sh_in "/root/pkg/install.sh --non-interactive /root/pkg/clinicbox.deb" >"$cache/$machine.install2.log" 2>&1 \
    || { cat "$cache/$machine.install2.log"; fail "second install.sh"; }
grep -q "/setup/" "$cache/$machine.install2.log" && fail "a used setup link was printed again"
grep -q "An operator account exists already" "$cache/$machine.install2.log" || fail "no operator note"
active || fail "service not active after the re-run"
ok "install.sh re-run: no stale setup link, service active"

echo "== upgrade whose pre-upgrade backup fails"
# Unwritable for the clinicbox user (who could chmod a directory of its own back).
run_in chown root:root /var/lib/clinicbox/backups
if run_in apt-get install -y -qq /root/pkg/clinicbox-next.deb >"$cache/$machine.up1.log" 2>&1; then
    fail "the upgrade went ahead without a backup"
fi
grep -q "pre-upgrade backup failed" "$cache/$machine.up1.log" || { cat "$cache/$machine.up1.log"; fail "no explanation"; }
[ "$(run_in dpkg-query -W -f='${Version}' clinicbox)" = "$(dpkg-deb -f "$deb" Version)" ] || fail "version changed"
wait_active || { cat "$cache/$machine.up1.log"; fail "the service is not running after the refused upgrade"; }
run_in apt-get -f install -y -qq >/dev/null 2>&1 || true
active || fail "apt-get -f install stopped the service"
ok "refused upgrade: version unchanged, service running again"
run_in chown clinicbox:clinicbox /var/lib/clinicbox/backups

echo "== upgrade"
run_in apt-get install -y -qq /root/pkg/clinicbox-next.deb >"$cache/$machine.up2.log" 2>&1 \
    || { cat "$cache/$machine.up2.log"; fail "upgrade"; }
run_in ls /var/lib/clinicbox/backups | grep -q -- '-pre-upgrade.backup.tar' || fail "no pre-upgrade backup"
wait_active || fail "service not active after the upgrade"
cb tenant show north | grep -q "North Clinic" || fail "clinic lost"
ok "upgrade: backup taken, service active, data kept"

echo "== remove, purge"
run_in apt-get remove -y -qq clinicbox >/dev/null 2>&1 || fail "remove"
active && fail "service still running after remove"
run_in test -f /etc/clinicbox/secret.key || fail "remove deleted the key"
cp "$guest/etc/clinicbox/secret.key" "$cache/$machine.key"
old_uid=$(run_in id -u clinicbox)
run_in apt-get purge -y -qq clinicbox >"$cache/$machine.purge1.log" 2>&1 || fail "purge"
run_in test -f /var/lib/clinicbox/secret.key.from-purge || fail "key not kept"
cmp -s "$guest/var/lib/clinicbox/secret.key.from-purge" "$cache/$machine.key" || fail "kept key differs"
run_in getent passwd clinicbox >/dev/null && fail "user left after purge"
ok "remove stopped the service; purge kept data and key, removed the user"

echo "== another system user takes the freed UID; reinstall"
run_in adduser --system --quiet --uid "$old_uid" --no-create-home squatter
[ "$(run_in id -u squatter)" = "$old_uid" ] || fail "squatter did not get UID $old_uid"
[ "$(run_in stat -c %U /var/lib/clinicbox/backups/"$first_backup")" = squatter ] || fail "test set-up: backups not owned by the UID"
run_in apt-get install -y -qq /root/pkg/clinicbox-next.deb >"$cache/$machine.reinstall.log" 2>&1 \
    || { cat "$cache/$machine.reinstall.log"; fail "reinstall"; }
grep -q "reusing the secret key" "$cache/$machine.reinstall.log" || { cat "$cache/$machine.reinstall.log"; fail "key not reused"; }
cmp -s "$guest/etc/clinicbox/secret.key" "$cache/$machine.key" || fail "a new key was generated"
[ "$(run_in id -u clinicbox)" != "$old_uid" ] || fail "test set-up: clinicbox got its old UID back"
stray=$(run_in find /var/lib/clinicbox /var/log/clinicbox ! -user clinicbox ! -name 'secret.key.from-purge*' | head -3)
[ -z "$stray" ] || fail "files still owned by the old UID: $stray"
wait_active || fail "service not active after the reinstall (crash loop?)"
sleep 2
active || fail "service stopped running after the reinstall"
cb check --no-dns >"$cache/$machine.check.log" 2>&1 || true
grep -q '^OK   secret key matches' "$cache/$machine.check.log" || { cat "$cache/$machine.check.log"; fail "check: key"; }
out=$(cb backup verify "/var/lib/clinicbox/backups/$first_backup" 2>&1) || true
grep -q '^OK ' <<<"$out" || fail "an old backup does not verify: $out"
out=$(cb tenant show north 2>&1) || true
grep -q "North Clinic" <<<"$out" || fail "clinic lost: $out"
ok "reinstall: kept key reused, kept files re-owned, service stays up, old backup verifies"

echo "== a second purge keeps the earlier kept key"
printf '%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" > "$guest/var/lib/clinicbox/secret.key.from-purge"
cp "$guest/var/lib/clinicbox/secret.key.from-purge" "$cache/$machine.earlier"
run_in apt-get purge -y -qq clinicbox >/dev/null 2>&1 || fail "second purge"
cmp -s "$guest/var/lib/clinicbox/secret.key.from-purge" "$cache/$machine.key" || fail "current key not kept"
found=0
for f in "$guest"/var/lib/clinicbox/secret.key.from-purge.*; do
    cmp -s "$f" "$cache/$machine.earlier" && found=1
done
[ "$found" = 1 ] || fail "the earlier kept key was overwritten"
ok "second purge: current key kept, earlier kept key moved aside, not overwritten"
rm -f "$cache/$machine".*
echo "nspawn: $pass checks passed"
