#!/usr/bin/env bash
# Runs the smoke test against the embedded system (`make run`'s process) on
# free ports, with its data in a fresh temporary directory (never the
# repository's .data), then stops it with SIGTERM and requires a clean exit.
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
data="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"; rm -rf "$data"' EXIT

GATEWAY_HTTP_PORT=0 AUTH_GRPC_PORT=0 USER_GRPC_PORT=0 SUBSCRIBER_GRPC_PORT=0 CHAT_GRPC_PORT=0 NOTIFICATION_GRPC_PORT=0 LOG_LEVEL=warn \
  DATA_DIR="$data" node embedded/src/main.ts >"$log" 2>&1 &
pid=$!

for _ in $(seq 1 150); do
  grep -q 'messenger ready' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "smoke: the system exited before it was ready" >&2; exit 1; }
  sleep 0.2
done
grep -q 'messenger ready' "$log" || { cat "$log" >&2; echo "smoke: the system was not ready within 30 s" >&2; exit 1; }

url="$(sed -n 's/^gateway[[:space:]]\{1,\}\(http[^[:space:]]*\)$/\1/p' "$log")"
node scripts/smoke.ts "$url"

kill -TERM "$pid"
if ! wait "$pid"; then
  cat "$log" >&2
  echo "smoke: the system did not stop cleanly" >&2
  exit 1
fi
echo "smoke: the system stopped cleanly"
