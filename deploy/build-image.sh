#!/usr/bin/env bash
# Builds the Strand container image with buildah, pulling nothing from any registry:
#   FROM scratch + the pinned Node binary that the `node` npm package installed
#   + the shared libraries it (and the native addons) load, copied from this host (ldd)
#   + the built workspace with production dependencies only (npm ci --omit=dev, from npm's cache).
# The image runs as UID 10001; /data (the volume) and /tmp are the only writable paths; the
# entrypoint is /usr/local/bin/strand in exec form (a node script, so node is PID 1 and gets
# SIGTERM directly). Usage: deploy/build-image.sh [TAG]   (default strand:<version>; or
# STRAND_IMAGE=...). Prints the image's size. Needs buildah (Debian: apt-get install buildah).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(node -p "require('$root/package.json').version")"
tag="${1:-${STRAND_IMAGE:-strand:$version}}"
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
# One pinned Node: the devDependency `node`, the one every npm script runs on.
node_bin="$(readlink -f "$root/node_modules/node/bin/node")"
runtime_packages=(base protocol storage raft controller broker client cli)

command -v buildah >/dev/null || { echo "build-image: buildah is not installed (apt-get install -y buildah)" >&2; exit 2; }
[ -x "$node_bin" ] || { echo "build-image: $node_bin missing: run npm ci first" >&2; exit 2; }

stage="$(mktemp -d "${TMPDIR:-/tmp}/strand-image-XXXXXX")"
trap 'rm -rf "$stage"' EXIT
rootfs="$stage/rootfs"
app="$rootfs/app"

echo "build-image: building the workspace" >&2
(cd "$root" && npm run --silent build)

echo "build-image: staging /app (production dependencies only)" >&2
mkdir -p "$app"
cp "$root/package.json" "$root/package-lock.json" "$app/"
for p in "${runtime_packages[@]}"; do
  mkdir -p "$app/packages/$p"
  cp "$root/packages/$p/package.json" "$app/packages/$p/"
  cp -r "$root/packages/$p/dist" "$app/packages/$p/dist"
done
# The lockfile names every workspace: the dev-only ones get an empty package.json stub.
for dir in "$root"/packages/*/; do
  p="$(basename "$dir")"
  [ -d "$app/packages/$p" ] && continue
  mkdir -p "$app/packages/$p" && cp "$dir/package.json" "$app/packages/$p/"
done
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
# Only what runs: no sources maps, type declarations, docs or tests in the image.
find "$app" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \
  -o -name '*.markdown' -o -name 'LICENSE*' -o -name 'CHANGELOG*' -o -name '*.ts.map' \) -type f -delete
find "$app/node_modules" -type d \( -name test -o -name tests -o -name __tests__ -o -name docs -o -name example -o -name examples \) -prune -exec rm -rf {} +
cp "$root/LICENSE" "$app/LICENSE"

echo "build-image: node and the shared libraries it loads" >&2
mkdir -p "$rootfs/usr/local/bin" "$rootfs/tmp" "$rootfs/etc" "$stage/data"
cp "$node_bin" "$rootfs/usr/local/bin/node"
strip --strip-unneeded "$rootfs/usr/local/bin/node" 2>/dev/null || true
libs() { ldd "$1" 2>/dev/null | grep -o '/[^ )]*' || true; }
{
  libs "$node_bin"
  find "$app" -name '*.node' -type f | while read -r addon; do libs "$addon"; done
} | sort -u | while read -r lib; do
  [ -e "$lib" ] || continue
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# getaddrinfo loads the "files" and "dns" NSS modules at run time (ldd cannot see them): with
# them, /etc/hosts and Kubernetes' DNS resolve pod names.
for nss in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 \
  /lib/aarch64-linux-gnu/libnss_files.so.2 /lib/aarch64-linux-gnu/libnss_dns.so.2; do
  [ -e "$nss" ] && mkdir -p "$rootfs$(dirname "$nss")" && cp -L "$nss" "$rootfs$nss"
done
printf 'root:x:0:0:root:/root:/sbin/nologin\nstrand:x:10001:10001:strand:/data:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nstrand:x:10001:\n' >"$rootfs/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 1777 "$rootfs/tmp"
# The entrypoint: node runs this script itself (shebang), so no shell is in between.
cat >"$rootfs/usr/local/bin/strand" <<'EOF'
#!/usr/local/bin/node
import("/app/packages/cli/dist/main.js");
EOF
chmod 0755 "$rootfs/usr/local/bin/strand"

echo "build-image: buildah build $tag" >&2
cp "$root/deploy/Containerfile" "$stage/Containerfile"
buildah build --isolation chroot --pull=never --layers=false -q \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -f "$stage/Containerfile" -t "$tag" "$stage" >/dev/null
echo "build-image: $tag built: $(buildah images --format '{{.Size}}' "$tag") (root file system $(du -sm "$rootfs" | cut -f1) MiB)" >&2
echo "$tag"
