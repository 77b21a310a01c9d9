#!/usr/bin/env bash
# Builds the statically linked release binary and the .deb from it.
#
#   packaging/build.sh            # -> <target>/debian/clinicbox_<version>-1_amd64.deb
#
# musl when the rustup target and musl-gcc (Debian: musl-tools) are available, otherwise
# glibc with crt-static. Either way `ldd` must call the result static, or the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "== cargo install cargo-deb (once)"
    cargo install cargo-deb --locked --version 3.8.0
fi

target=x86_64-unknown-linux-musl
rustflags="${RUSTFLAGS:-}"
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    rustup target add "$target" >/dev/null 2>&1 || true
fi
if rustup target list --installed 2>/dev/null | grep -qx "$target" && command -v musl-gcc >/dev/null 2>&1; then
    echo "== static build: musl ($target)"
else
    target=x86_64-unknown-linux-gnu
    rustflags="$rustflags -C target-feature=+crt-static"
    echo "== musl target or musl-gcc unavailable: static glibc ($target, crt-static)"
fi

RUSTFLAGS="$rustflags" cargo build --locked --profile dist --target "$target"
bin="$CARGO_TARGET_DIR/$target/dist/clinicbox"

echo "== ldd $bin"
ldd_out="$(ldd "$bin" 2>&1 || true)"
echo "$ldd_out"
if ! grep -Eq 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
    echo "error: $bin is dynamically linked" >&2
    exit 1
fi
size=$(stat -c %s "$bin")
echo "== size: $size bytes ($(( size / 1024 / 1024 )) MiB)"

echo "== man pages"
rm -rf packaging/man
"$bin" manpage --out packaging/man
gzip -9n packaging/man/*.1

echo "== cargo deb"
RUSTFLAGS="$rustflags" cargo deb --no-build --target "$target" --profile dist \
    --output "$CARGO_TARGET_DIR/debian/" --no-strip
deb=$(ls -t "$CARGO_TARGET_DIR"/debian/clinicbox_*.deb | head -1)
echo "== $deb ($(stat -c %s "$deb") bytes)"
echo "$deb" > "$CARGO_TARGET_DIR/debian/latest"
