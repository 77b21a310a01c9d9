#!/usr/bin/env bash
# ClinicBox installer for a fresh Debian 12 or Ubuntu 22.04/24.04 VPS (x86_64).
#
#   sudo ./install.sh --domain admin.clinics.example.org --email ops@example.org
#   sudo ./install.sh                       # asks for both
#   sudo ./install.sh --non-interactive --domain … --email … [path/to/clinicbox_X_amd64.deb]
#
# Installs PostgreSQL from the distribution, installs the .deb (the path given, or the newest
# clinicbox_*.deb next to this script), opens ports 80 and 443 in ufw when ufw is active,
# waits for the service, runs `clinicbox check` and prints the console address with the
# one-time setup link. Running it again is safe: existing configuration and data are kept.
set -euo pipefail

ORIG_ARGS=("$@")
DOMAIN=""
BASE_DOMAIN=""
EMAIL=""
INTERACTIVE=1
DEB=""
CONF=/etc/clinicbox/clinicbox.toml

die() { echo "install.sh: $*" >&2; exit 1; }
step() { echo "== $*"; }

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --domain) DOMAIN="${2:-}"; shift 2 ;;
        --domain=*) DOMAIN="${1#*=}"; shift ;;
        --base-domain) BASE_DOMAIN="${2:-}"; shift 2 ;;
        --base-domain=*) BASE_DOMAIN="${1#*=}"; shift ;;
        --email) EMAIL="${2:-}"; shift 2 ;;
        --email=*) EMAIL="${1#*=}"; shift ;;
        --non-interactive|-y) INTERACTIVE=0; shift ;;
        -h|--help) usage 0 ;;
        -*) echo "install.sh: unknown option $1" >&2; usage 2 ;;
        *) DEB="$1"; shift ;;
    esac
done

if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "run this as root (sudo is not installed)."
    exec sudo -- "$0" "${ORIG_ARGS[@]}"
fi

# --- the machine -------------------------------------------------------------------------
[ -r /etc/os-release ] || die "cannot tell which operating system this is (/etc/os-release is missing)."
. /etc/os-release
case "${ID:-}:${VERSION_ID:-}" in
    debian:12|debian:13|ubuntu:22.04|ubuntu:24.04) ;;
    *) die "this installer supports Debian 12 and Ubuntu 22.04/24.04; this is ${PRETTY_NAME:-unknown}." ;;
esac
[ "$(uname -m)" = x86_64 ] || die "the ClinicBox package is built for x86_64; this machine is $(uname -m)."

if [ -z "$DEB" ]; then
    here="$(cd "$(dirname "$0")" && pwd)"
    DEB="$(ls -t "$here"/clinicbox_*_amd64.deb 2>/dev/null | head -1 || true)"
    [ -n "$DEB" ] || die "no clinicbox_*_amd64.deb next to install.sh; give its path as the last argument."
fi
[ -f "$DEB" ] || die "$DEB does not exist."
DEB="$(readlink -f "$DEB")"

# --- questions ---------------------------------------------------------------------------
existing_console=""
if [ -f "$CONF" ]; then
    existing_console="$(sed -n 's/^console_host = "\(.*\)"/\1/p' "$CONF" | head -1)"
fi
if [ -z "$DOMAIN" ] && [ -n "$existing_console" ]; then
    DOMAIN="$existing_console"
fi
if [ -z "$DOMAIN" ]; then
    [ "$INTERACTIVE" = 1 ] || die "--domain is required with --non-interactive (the console's hostname, e.g. admin.clinics.example.org)."
    read -r -p "Console hostname (e.g. admin.clinics.example.org): " DOMAIN
fi
if [ -z "$EMAIL" ] && [ -z "$existing_console" ]; then
    if [ "$INTERACTIVE" = 1 ]; then
        read -r -p "Contact email for Let's Encrypt (expiry warnings): " EMAIL
    fi
fi
DOMAIN="$(echo "$DOMAIN" | tr 'A-Z' 'a-z')"
echo "$DOMAIN" | grep -Eq '^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$' \
    || die "'$DOMAIN' is not a hostname (letters, digits, '-' and dots, e.g. admin.clinics.example.org)."
if [ -n "$EMAIL" ]; then
    echo "$EMAIL" | grep -Eq '^[^@ ]+@[^@ ]+\.[^@ ]+$' || die "'$EMAIL' is not an email address."
fi
[ -n "$BASE_DOMAIN" ] || BASE_DOMAIN="${DOMAIN#*.}"
if [ -n "$existing_console" ] && [ "$existing_console" != "$DOMAIN" ]; then
    echo "install.sh: note: $CONF already names console $existing_console; it is kept (edit it to change)."
    DOMAIN="$existing_console"
fi

# --- DNS (a hint here; `clinicbox check` proves it once the server runs) -----------------
resolved="$(getent ahosts "$DOMAIN" 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ' || true)"
if [ -z "$resolved" ]; then
    echo "install.sh: warning: $DOMAIN does not resolve yet; create an A record pointing at this server, or certificates cannot be issued."
else
    mine="$(hostname -I 2>/dev/null || true)"
    match=0
    for ip in $resolved; do
        case " $mine " in *" $ip "*) match=1 ;; esac
    done
    [ "$match" = 1 ] || echo "install.sh: note: $DOMAIN resolves to $resolved, which is not an address of this machine (fine behind NAT such as Lightsail; \`clinicbox check\` will test it from here)."
fi

# --- packages ----------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
    step "installing PostgreSQL from ${PRETTY_NAME}"
    apt-get update -qq || die "apt-get update failed: check the network and /etc/apt/sources.list."
    apt-get install -y -qq postgresql postgresql-client >/dev/null \
        || die "PostgreSQL could not be installed with apt-get (see the messages above)."
fi
if ! runuser -u postgres -- psql -qtAc 'SELECT 1' >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then
        systemctl enable --now postgresql >/dev/null 2>&1 || true
    else
        pg_ctlcluster "$(ls /usr/lib/postgresql | sort -n | tail -1)" main start >/dev/null 2>&1 || true
    fi
    runuser -u postgres -- psql -qtAc 'SELECT 1' >/dev/null 2>&1 \
        || die "PostgreSQL is installed but not answering: \`systemctl status postgresql\` says why."
fi

step "installing $(basename "$DEB")"
CB_INSTALL_DOMAIN="$DOMAIN" CB_INSTALL_BASE_DOMAIN="$BASE_DOMAIN" CB_INSTALL_EMAIL="$EMAIL" \
    apt-get install -y -qq "$DEB" \
    || die "the package did not install (see the messages above); after fixing the cause, run install.sh again."

# --- firewall ----------------------------------------------------------------------------
if command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep -q "^Status: active"; then
    step "opening ports 80 and 443 in ufw"
    ufw allow 80/tcp >/dev/null
    ufw allow 443/tcp >/dev/null
fi

# --- the service -------------------------------------------------------------------------
cb() { runuser -u clinicbox -- clinicbox --config "$CONF" "$@"; }
if [ -d /run/systemd/system ]; then
    systemctl enable clinicbox >/dev/null 2>&1 || true
    systemctl is-active --quiet clinicbox || systemctl restart clinicbox \
        || die "the service did not start: \`journalctl -u clinicbox -n 50\` shows why."
else
    # A container or chroot without systemd: run it in the background, with only the
    # capability to bind ports 80/443.
    if ! pgrep -u clinicbox -x clinicbox >/dev/null 2>&1; then
        step "systemd is not running here: starting clinicbox in the background (it will not start again after a reboot)"
        setpriv --reuid clinicbox --regid clinicbox --init-groups \
            --inh-caps +net_bind_service --ambient-caps +net_bind_service \
            clinicbox --config "$CONF" serve >>/var/log/clinicbox/serve.out 2>&1 &
    fi
fi

step "waiting for the server"
ready=0
for _ in $(seq 1 60); do
    out="$(cb check --no-dns 2>/dev/null || true)"
    if grep -q '^OK  *listener' <<<"$out" && ! grep -q '^WARN *listener' <<<"$out"; then
        ready=1
        break
    fi
    sleep 1
done
[ "$ready" = 1 ] || die "the server did not start listening within 60 s: \`journalctl -u clinicbox -n 50\` (or /var/log/clinicbox/serve.out) shows why; if port 80 or 443 is taken, \`ss -ltnp\` shows by whom."

step "clinicbox check"
cb check || echo "install.sh: some checks failed (FAIL above); each line says what to do."

link=""
for _ in $(seq 1 10); do
    [ -s /var/lib/clinicbox/setup-link.txt ] && link="$(cat /var/lib/clinicbox/setup-link.txt)" && break
    sleep 1
done
console="https://$DOMAIN/"
[ -z "$link" ] || console="${link%%/setup/*}/"
echo
echo "ClinicBox is installed."
echo "  Console:  $console"
if [ -n "$link" ]; then
    echo "  Create the first operator account (one-time link, valid 24 h):"
    echo "    $link"
else
    echo "  An operator account exists already; sign in at the console."
fi
echo "  Clinics:  clinicbox tenant create <slug> --name \"…\"  ->  https://<slug>.$BASE_DOMAIN/"
echo "  Health:   clinicbox check    Backups: clinicbox backup list    Logs: journalctl -u clinicbox"
