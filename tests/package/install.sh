#!/usr/bin/env bash
# install.sh on this machine (Debian 12, no systemd as PID 1): argument errors explained in
# one sentence; a real install with a pre-seeded loopback config (kept), the server started
# in the background, `clinicbox check` run, the setup link printed; a second run changes
# nothing and starts no second server. Cleans up after itself.
#
#   tests/package/install.sh path/to/clinicbox_X_amd64.deb
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
deb="$(readlink -f "$1")"
. "$(dirname "$0")/lib.sh"
out="$(mktemp -d /tmp/clinicbox-install.XXXXXX)"; scratch="$out"

# Mistakes are refused before anything is installed.
expect_error() {
    local want="$1"; shift
    if "$root/install.sh" "$@" >"$out/err.log" 2>&1; then fail "install.sh $* succeeded"; fi
    grep -q -- "$want" "$out/err.log" || { cat "$out/err.log"; fail "no '$want'"; }
    dpkg-query -W clinicbox >/dev/null 2>&1 && fail "installed anyway"
    return 0
}
expect_error "--domain is required" --non-interactive "$deb"
expect_error "is not a hostname" --non-interactive --domain "not a host" "$deb"
expect_error "is not an email address" --non-interactive --domain admin.clinics.test --email nope "$deb"
expect_error "does not exist" --non-interactive --domain admin.clinics.test /nonexistent.deb
expect_error "unknown option" --colour
ok "argument mistakes explained, nothing installed"

# An operator's own config is kept: loopback only, TLS off (no CA reachable from here).
port=18$((RANDOM % 900 + 100))
mkdir -p /etc/clinicbox
sed -e "s|^base_domain = .*|base_domain = \"clinics.test\"|" \
    -e "s|^console_host = .*|console_host = \"admin.clinics.test\"|" \
    -e "s|^http_listen = .*|http_listen = \"127.0.0.1:$port\"|" \
    -e "s|^https_listen = .*|https_listen = \"127.0.0.1:$((port + 1))\"|" \
    -e "s|^mode = \"acme\"|mode = \"off\"|" \
    "$root/packaging/clinicbox.toml.example" > /etc/clinicbox/clinicbox.toml
cp /etc/clinicbox/clinicbox.toml "$out/seeded.toml"

"$root/install.sh" --non-interactive --domain admin.clinics.test --email ops@clinics.test "$deb" | tee "$out/run1.log"
grep -q "ClinicBox is installed." "$out/run1.log" || fail "no summary"
grep -Eq "http://admin.clinics.test:$port/setup/[A-Za-z0-9_-]+" "$out/run1.log" || fail "no setup link"
grep -q "^OK   database" "$out/run1.log" || fail "check did not run"
cmp -s /etc/clinicbox/clinicbox.toml "$out/seeded.toml" || fail "config overwritten"
curl -fsS "http://127.0.0.1:$port/readyz" | grep -q '"ready"' || fail "not ready"
ok "installed, server ready, check run, setup link printed, config kept"

"$root/install.sh" --non-interactive "$deb" | tee "$out/run2.log"
[ "$(pgrep -u clinicbox -x clinicbox | wc -l)" = 1 ] || fail "a second server was started"
grep -q "ClinicBox is installed." "$out/run2.log" || fail "second run failed"
ok "second run is safe (no second server, config kept)"
echo "install.sh: $pass checks passed"
