#!/usr/bin/env bash
# Usage: scripts/with-real-infra.sh mongo|kafka <command...>
#
# Runs <command> against a real MongoDB (MONGODB_URL) or Kafka (KAFKA_BROKERS):
# the server the variable already names, or else one started with Docker
# Compose from docker-compose.yml (plus deploy/test-infra/compose.yml, which
# publishes it on a free loopback port) under its own project name, waited for
# until healthy, and removed with its volumes when the command ends. Exits with
# the command's exit code. Without the variable and without Docker it fails:
# these suites cannot run on a machine with neither.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
kind="${1:-}"
if [ "$#" -lt 2 ] || { [ "$kind" != mongo ] && [ "$kind" != kafka ]; }; then
  echo "usage: $0 mongo|kafka <command...>" >&2
  exit 2
fi
shift
log() { echo "with-real-infra: $*" >&2; }

var=MONGODB_URL
[ "$kind" = kafka ] && var=KAFKA_BROKERS
if [ -n "${!var:-}" ]; then
  log "$var is set: using that server"
  exec "$@"
fi
if ! docker compose version >/dev/null 2>&1; then
  log "$var is not set and Docker Compose is not available: no $kind server to test against"
  exit 1
fi

# A free loopback port, asked of the kernel (bind to port 0) and released again.
port="$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
project="messenger-test-$kind-$$"
compose=(docker compose -p "$project" -f "$root/docker-compose.yml" -f "$root/deploy/test-infra/compose.yml")
cleanup() { "${compose[@]}" down --volumes --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$kind" = mongo ]; then
  export TEST_MONGO_PORT="$port"
  "${compose[@]}" up --detach --wait mongo
  # The replica set's member is named `mongo`, which the host cannot resolve:
  # talk to the node directly (it is the primary, so transactions work).
  export MONGODB_URL="mongodb://127.0.0.1:$port/?replicaSet=rs0&directConnection=true"
else
  export TEST_KAFKA_PORT="$port"
  "${compose[@]}" up --detach --wait kafka
  export KAFKA_BROKERS="127.0.0.1:$port"
fi
log "$var=${!var}"
status=0
"$@" || status=$?
exit "$status"
