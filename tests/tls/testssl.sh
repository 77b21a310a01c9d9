#!/usr/bin/env bash
# Runs testssl.sh against ClinicBox's own HTTPS listener and checks the verdict:
#   - only TLS 1.2 and TLS 1.3 are offered,
#   - no finding is rated MEDIUM, HIGH or CRITICAL (vulnerabilities, weak ciphers…),
#   - every cipher suite offered has forward secrecy.
# The server is the real `clinicbox serve` with a throwaway PostgreSQL cluster and an ECDSA
# P-256 certificate (tls.mode = "manual"; the ACME path uses the same listener and rustls
# configuration). Everything is started here, on loopback, and stopped by PID on exit.
#
# Usage: tests/tls/testssl.sh            (needs: testssl.sh, openssl, jq, PostgreSQL server)
# Output: a summary, and the full JSON report in $OUT (default target/testssl/).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/clinicbox-target}
OUT=${OUT:-$ROOT/target/testssl}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
PORT=${PORT:-18443}
HOST=admin.clinics.test
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/clinicbox-testssl.XXXXXX)
chmod 755 "$WORK"
SERVER_PID=""

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -f "$WORK/pg/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v testssl >/dev/null || command -v testssl.sh >/dev/null || { echo "testssl.sh is not installed (apt-get install testssl.sh)"; exit 1; }
TESTSSL=$(command -v testssl || command -v testssl.sh)

echo "== building clinicbox (release)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN=$CARGO_TARGET_DIR/release/clinicbox

echo "== throwaway PostgreSQL in $WORK/pg"
mkdir -p "$WORK/pg" "$WORK/sock"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg" "$WORK/sock"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres -A trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -o "-k $WORK/sock -c listen_addresses=''" -l "$WORK/pg/log" -w start >/dev/null
psql_su() { "$PGBIN/psql" -h "$WORK/sock" -U postgres -d postgres -qAt "$@"; }
psql_su -c "CREATE ROLE clinicbox LOGIN NOINHERIT CREATEROLE CREATEDB"
psql_su -c "CREATE DATABASE clinicbox OWNER clinicbox ENCODING 'UTF8' TEMPLATE template0"

echo "== a test CA and an ECDSA P-256 certificate for $HOST (90 days, like Let's Encrypt)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=ClinicBox testssl CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
  -keyout "$WORK/key.pem" -out "$WORK/leaf.csr" 2>/dev/null
cat > "$WORK/leaf.ext" <<EXT
subjectAltName=DNS:$HOST
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
crlDistributionPoints=URI:http://crl.clinics.test/ca.crl
EXT
openssl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 90 -extfile "$WORK/leaf.ext" -out "$WORK/leaf.pem" 2>/dev/null
cat "$WORK/leaf.pem" "$WORK/ca.pem" > "$WORK/cert.pem"

cat > "$WORK/clinicbox.toml" <<TOML
[database]
url = "postgres://clinicbox@/clinicbox?host=$WORK/sock"
[server]
base_domain = "clinics.test"
console_host = "$HOST"
http_listen = "127.0.0.1:$((PORT + 1))"
https_listen = "127.0.0.1:$PORT"
[tls]
mode = "manual"
cert_file = "$WORK/cert.pem"
key_file = "$WORK/key.pem"
[storage]
data_dir = "$WORK/data"
key_file = "$WORK/secret.key"
TOML
"$BIN" --config "$WORK/clinicbox.toml" migrate >/dev/null
"$BIN" --config "$WORK/clinicbox.toml" serve >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  curl -sk --resolve "$HOST:$PORT:127.0.0.1" "https://$HOST:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "== testssl.sh $($TESTSSL --version 2>/dev/null | grep -o 'testssl.sh *[0-9.a-z+-]*' | head -1)"
rm -f "$OUT/testssl.json"
# --ip pins the name to loopback; --add-ca trusts the test CA; -p protocols, -s cipher
# categories, -f forward secrecy, -U vulnerabilities, -S server defaults (certificate),
# -P server preferences, -E every cipher per protocol.
"$TESTSSL" --quiet --color 0 --warnings off --ip 127.0.0.1 --add-ca "$WORK/ca.pem" \
  --jsonfile "$OUT/testssl.json" -p -s -f -U -S -P -E "https://$HOST:$PORT" >"$OUT/testssl.txt" 2>&1 || true

J="$OUT/testssl.json"
[ -s "$J" ] || { echo "testssl.sh produced no report; see $OUT/testssl.txt"; exit 1; }
fail=0
echo
echo "Protocols offered:"
jq -r '.[] | select(.id|test("^(SSLv2|SSLv3|TLS1|TLS1_1|TLS1_2|TLS1_3)$")) | "  \(.id): \(.finding)"' "$J"
bad_proto=$(jq -r '[.[] | select(.id|test("^(SSLv2|SSLv3|TLS1|TLS1_1)$")) | select(.finding|test("^offered";"i"))] | length' "$J")
[ "$bad_proto" = 0 ] || { echo "FAIL: a protocol older than TLS 1.2 is offered"; fail=1; }
for p in TLS1_2 TLS1_3; do
  jq -e --arg p "$p" '.[] | select(.id==$p) | select(.finding|test("^offered";"i"))' "$J" >/dev/null \
    || { echo "FAIL: $p is not offered"; fail=1; }
done

echo "Cipher suites offered:"
jq -r '.[] | select(.id|test("^cipher-tls1_[23]_")) | "  \(.finding)"' "$J" | sed 's/   */ /g'
offered=$(jq -r '[.[] | select(.id|test("^cipher-tls1_[23]_"))] | length' "$J")
[ "$offered" -gt 0 ] || { echo "FAIL: no cipher suites listed"; fail=1; }
# TLS 1.3 suites always have forward secrecy; TLS 1.2 ones must be ECDHE/DHE.
nofs=$(jq -r '[.[] | select(.id|test("^cipher-tls1_2_")) | select(.finding|test("ECDHE|DHE")|not)] | length' "$J")
[ "$nofs" = 0 ] || { echo "FAIL: $nofs TLS 1.2 suites without forward secrecy"; fail=1; }
echo "Forward secrecy:"
jq -r '.[] | select(.id|test("^P?FS(_ciphers|_ECDHE_curves)?$")) | "  \(.id): \(.finding)"' "$J"
fs=$(jq -r '.[] | select(.id=="FS" or .id=="PFS") | .severity' "$J")
[ "$fs" = "OK" ] || { echo "FAIL: forward secrecy not offered (FS: $fs)"; fail=1; }
echo "Cipher order: $(jq -r '.[] | select(.id=="cipher_order") | .finding' "$J")"

echo "Vulnerabilities checked:"
jq -r '.[] | select(.id|test("^(heartbleed|CCS|ticketbleed|ROBOT|secure_renego|secure_client_renego|CRIME_TLS|BREACH|POODLE_SSL|fallback_SCSV|SWEET32|FREAK|DROWN|LOGJAM|BEAST|LUCKY13|winshock|RC4)$")) | "  \(.id): \(.severity) – \(.finding)"' "$J"
bad=$(jq -r '[.[] | select(.severity=="MEDIUM" or .severity=="HIGH" or .severity=="CRITICAL")] | length' "$J")
if [ "$bad" != 0 ]; then
  echo "FAIL: $bad findings rated MEDIUM or worse:"
  jq -r '.[] | select(.severity=="MEDIUM" or .severity=="HIGH" or .severity=="CRITICAL") | "  \(.id) [\(.severity)]: \(.finding)"' "$J"
  fail=1
fi
lows=$(jq -r '[.[] | select(.severity=="LOW")] | length' "$J")
if [ "$lows" != 0 ]; then
  echo "Findings rated LOW (informational for this setup):"
  jq -r '.[] | select(.severity=="LOW") | "  \(.id): \(.finding)"' "$J"
fi
echo
if [ "$fail" = 0 ]; then
  echo "testssl.sh: PASS (only TLS 1.2/1.3, forward secrecy everywhere, no findings MEDIUM or worse)"
else
  echo "testssl.sh: FAIL (full report: $OUT/testssl.txt)"
fi
exit "$fail"
