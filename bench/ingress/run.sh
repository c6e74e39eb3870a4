#!/usr/bin/env bash
# Ingress benchmark: the same wrk load against `slipway serve` and against Probot 14 running a
# no-op app, one after the other on this machine. Each request is a real `push` payload from
# GitHub's examples, validly signed, with a unique delivery id.
#
#   bench/ingress/run.sh            # 32 connections, 10 s each, after a 3 s warm-up
#
# Settings: CONNECTIONS, DURATION, THREADS, LOG_LEVEL (default warn for both servers).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
connections="${CONNECTIONS:-32}"
duration="${DURATION:-10s}"
threads="${THREADS:-2}"
log_level="${LOG_LEVEL:-warn}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -x "$here/node_modules/.bin/probot" ] || (cd "$here" && npm install --no-audit --no-fund --silent)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
target_dir="$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
slipway="$target_dir/release/slipway"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

openssl genrsa -traditional -out "$work/key.pem" 2048 2>/dev/null
secret="bench-webhook-secret"
export BODY_FILE="$root/tests/fixtures/webhooks/handled/push/00-push.json"
export SIGNATURE="sha256=$(openssl dgst -sha256 -hmac "$secret" -hex < "$BODY_FILE" | awk '{print $NF}')"

wait_for() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "server at $1 did not start" >&2
  return 1
}

# Loads the server on $1 and prints "rps p50 p99 requests non_2xx peak_rss_mib" for pid $2.
measure() {
  local url="$1" pid="$2" name="$3"
  RUN_ID="$name-warmup" wrk -t"$threads" -c"$connections" -d3s -s "$here/post-webhook.lua" "$url" >/dev/null
  local out
  out="$(RUN_ID="$name" wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$here/post-webhook.lua" "$url")"
  echo "$out" >&2
  local result rss
  result="$(echo "$out" | grep '^RESULT')"
  rss="$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")"
  echo "$result peak_rss_mib=$rss"
}

echo "== slipway serve ($slipway)" >&2
(cd "$work" && APP_ID=1 PRIVATE_KEY_PATH="$work/key.pem" WEBHOOK_SECRET="$secret" HOST=127.0.0.1 PORT=3101 OPS_PORT=3111 \
  DATABASE_URL="sqlite://$work/slipway.db" LOG_LEVEL="$log_level" GITHUB_API_URL=http://127.0.0.1:9 \
  exec "$slipway" serve 2>"$work/slipway.log") &
pids+=($!)
wait_for http://127.0.0.1:3101/healthz
slipway_result="$(measure http://127.0.0.1:3101 "${pids[0]}" slipway)"
stored="$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"select count(*) from deliveries where id like 'slipway-%' and id not like 'slipway-warmup%'\").fetchone()[0])" "$work/slipway.db")"
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

echo "== Probot $(node -p 'require("'"$here"'/node_modules/probot/package.json").version') (no-op app)" >&2
(cd "$here" && APP_ID=1 PRIVATE_KEY="$(cat "$work/key.pem")" WEBHOOK_SECRET="$secret" PORT=3102 HOST=127.0.0.1 \
  LOG_LEVEL="$log_level" exec node_modules/.bin/probot run ./probot-noop.js >"$work/probot.log" 2>&1) &
pids+=($!)
wait_for http://127.0.0.1:3102/
probot_pid="$(pgrep -f 'probot run ./probot-noop.js' | head -1)"
probot_result="$(measure http://127.0.0.1:3102 "$probot_pid" probot)"

field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "load: wrk -t$threads -c$connections -d$duration, signed push payload ($(wc -c < "$BODY_FILE") bytes), unique delivery ids, LOG_LEVEL=$log_level"
echo
echo "| server | requests/s | p50 | p99 | peak RSS | non-2xx answers |"
echo "|---|---|---|---|---|---|"
for name in slipway probot; do
  result="${name}_result"; result="${!result}"
  printf '| %s | %s | %s ms | %s ms | %s MiB | %s |\n' "$name" "$(field "$result" rps)" "$(field "$result" p50_ms)" \
    "$(field "$result" p99_ms)" "$(field "$result" peak_rss_mib)" "$(field "$result" non_2xx)"
done
ratio="$(python3 -c "print(f'{$(field "$slipway_result" rps)/$(field "$probot_result" rps):.1f}')")"
echo
echo "slipway/Probot requests/s: ${ratio}x; slipway stored $stored deliveries for $(field "$slipway_result" requests) requests answered in the measured run"
