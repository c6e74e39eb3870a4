#!/usr/bin/env bash
# slipway's image: its size, and how long a container of it takes from start to answering.
#
#   bench/image.sh [RUNS]        (default 10 cold starts)
#
# Builds the image the way the test suite does (tests/image.rs: image/assemble, the
# Dockerfile's last stage, an OCI archive), as root. Then RUNS times: a fresh container from
# the archive, `buildah run --isolation chroot` of the image's entrypoint as user 65532 with
# every capability dropped, and the time from starting buildah to the first 200 of `/healthz`
# and of `/readyz` on the operations port. App credentials are given through the environment
# (the test fixtures' key; GITHUB_API_URL points at a closed loopback port, so nothing leaves
# the machine): the time to a ready pod with an App.
# Prints sizes and the median, min and max of both times.
set -euo pipefail

runs="${1:-10}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "bench: building and running the image needs root" >&2; exit 1; }
for tool in buildah curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

# The image, built by the test that checks it.
(cd "$root" && SLIPWAY_IMAGE_TEST=required cargo test --locked --quiet --test image \
  the_image_is_what_the_dockerfile_describes >/dev/null)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
archive="$target_dir/tmp/image/slipway.oci.tar"
[ -f "$archive" ] || { echo "bench: no image at $archive" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT
b=(buildah --root "$work/storage" --runroot "$work/runroot" --storage-driver vfs)

# Sizes: the archive as committed (uncompressed layer), its layer gzip-compressed as a
# registry stores it, and the root file system unpacked.
archive_bytes=$(stat -c %s "$archive")
mkdir "$work/oci"
tar -xf "$archive" -C "$work/oci"
layer_gzip_bytes=$(python3 - "$work/oci" <<'EOF'
import gzip, json, os, sys
oci = sys.argv[1]
def blob(digest):
    return os.path.join(oci, "blobs", *digest.split(":"))
index = json.load(open(os.path.join(oci, "index.json")))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
total = 0
for layer in manifest["layers"]:
    data = open(blob(layer["digest"]), "rb").read()
    if not layer["mediaType"].endswith("gzip"):
        data = gzip.compress(data, 6)
    total += len(data)
print(total)
EOF
)
container=$("${b[@]}" from --quiet --name slipway-bench-size "oci-archive:$archive")
unpacked_bytes=$(du -sb "$("${b[@]}" mount "$container")" | cut -f1)
"${b[@]}" umount "$container" >/dev/null
"${b[@]}" rm "$container" >/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
# Waits (polling every 5 ms, at most 60 s) for a 200 from URL; prints the nanosecond clock then.
first_200() {
  local deadline=$(($(now) + 60000000000))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
    [ "$(now)" -lt "$deadline" ] || { echo "bench: no 200 from $1" >&2; return 1; }
    sleep 0.005
  done
  now
}

key=$(cat "$root/tests/fixtures/app-private-key.pem")
closed=$(port)
: >"$work/healthz"
: >"$work/readyz"
for run in $(seq "$runs"); do
  container=$("${b[@]}" from --quiet --name "slipway-bench-$run" "oci-archive:$archive")
  mapfile -t argv < <("${b[@]}" inspect --type container "$container" |
    python3 -c 'import json,sys; c=json.load(sys.stdin)["OCIv1"]["config"]; print("\n".join(c["Entrypoint"]+c["Cmd"]))')
  http=$(port)
  ops=$(port)
  start=$(now)
  "${b[@]}" run --isolation chroot --cap-drop ALL \
    --env HOST=127.0.0.1 --env PORT="$http" --env OPS_PORT="$ops" --env LOG_LEVEL=warn \
    --env APP_ID=1 --env PRIVATE_KEY="$key" --env WEBHOOK_SECRET=bench \
    --env GITHUB_API_URL="http://127.0.0.1:$closed" \
    "$container" -- "${argv[@]}" 2>"$work/serve-$run.log" &
  buildah_pid=$!
  healthz=$(first_200 "http://127.0.0.1:$ops/healthz")
  readyz=$(first_200 "http://127.0.0.1:$ops/readyz")
  echo $(((healthz - start) / 1000000)) >>"$work/healthz"
  echo $(((readyz - start) / 1000000)) >>"$work/readyz"
  # buildah passes the signal on to slipway.
  kill -TERM "$buildah_pid"
  wait "$buildah_pid" || true
  "${b[@]}" rm "$container" >/dev/null
done

stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "median %d ms (min %d, max %d)", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "image: OCI archive $(mib "$archive_bytes"), compressed layer $(mib "$layer_gzip_bytes"), unpacked $(mib "$unpacked_bytes")"
echo "cold start to /healthz 200 over $runs runs: $(stats "$work/healthz")"
echo "cold start to /readyz 200 over $runs runs: $(stats "$work/readyz")"
