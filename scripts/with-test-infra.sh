#!/usr/bin/env bash
# Usage: scripts/with-test-infra.sh <command...>
#
# Runs <command> with throwaway test infrastructure on loopback:
#   REDIS_URL=redis://127.0.0.1:PORT   a private redis-server, no persistence
#   KAFKA_BROKERS=host:port[,...]      librdkafka's mock cluster (.build/kafka-mock)
#   S3_ENDPOINT=http://127.0.0.1:PORT  an S3-protocol server (s3rver, npm dev
#     dependency) with the bucket S3_BUCKET; S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY
#     are its fixed test credentials, S3_REGION any region
# and exits with the command's exit code.
#
# On any exit (success, failure, Ctrl-C, SIGTERM/SIGHUP) it stops exactly the
# processes it started, by PID, and removes its temp dir. A signal is passed
# on to the command and every process under it (npm does not pass SIGTERM on
# to the script it runs); a second signal SIGKILLs them. After a signal the
# script dies by that same signal, so make and shells see an interrupted run.
# If this script is SIGKILLed, Redis, s3rver, the Kafka mock and the temp dir still go
# away (lifeline FIFO, see below); the command's processes do not.
#
# Prerequisites: scripts/install-test-deps.sh (redis-server, .build/kafka-mock),
# make setup (node_modules/.bin/s3rver).
# TEST_INFRA_START_TIMEOUT: seconds to wait for each server (default 15).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
mock_bin="$root/.build/kafka-mock"
start_timeout="${TEST_INFRA_START_TIMEOUT:-15}"

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command...>" >&2
  exit 2
fi

log() { echo "with-test-infra: $*" >&2; }
die() {
  log "$*"
  exit 1
}

tmp=""
lifeline=""    # fd of the lifeline FIFO (write side), held only by this script
redis=""       # processes are tracked as "PID:STARTTIME" so that a PID reused
mock=""        # by an unrelated process after ours exited is never signalled
s3=""
watchdog=""
cmd_pid=""
cmd_procs=()   # the command and its descendants, as seen at signal time
received=""

# Prints "PID:STARTTIME" for a live (non-zombie) process, fails otherwise.
proc_id() {
  local stat fields
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  read -r -a fields <<<"${stat##*) }" # fields from 3 on: comm may hold spaces
  [ "${fields[0]}" != Z ] || return 1
  echo "$1:${fields[19]}"
}

# True while the process of a "PID:STARTTIME" entry runs.
alive() { [ -n "$1" ] && [ "$(proc_id "${1%%:*}" 2>/dev/null)" = "$1" ]; }

# Prints "PID:STARTTIME" entries for PID $1 and all its descendants.
proc_tree() {
  local -A children=()
  local f stat rest pid id queue=("$1")
  for f in /proc/[0-9]*/stat; do
    { read -r stat <"$f"; } 2>/dev/null || continue
    rest="${stat##*) }" # "STATE PPID ..."
    rest="${rest#* }"
    children[${rest%% *}]+=" ${stat%% *}"
  done
  while [ "${#queue[@]}" -gt 0 ]; do
    pid="${queue[0]}"
    queue=("${queue[@]:1}")
    if id="$(proc_id "$pid")"; then echo "$id"; fi
    # shellcheck disable=SC2206 # word-splitting the child list on purpose
    queue+=(${children[$pid]:-})
  done
}

signal_procs() { # SIG ENTRY...
  local sig="$1" p
  shift
  for p in "$@"; do
    if alive "$p"; then kill "-$sig" "${p%%:*}" 2>/dev/null || true; fi
  done
}

# Sends SIGTERM to the given entries, waits up to $1 tenths of a second for
# them to exit, then SIGKILLs the rest; reaps those that are our children.
stop_procs() { # TENTHS ENTRY...
  local tenths="$1" i p left
  shift
  [ "$#" -gt 0 ] || return 0
  signal_procs TERM "$@"
  for ((i = 0; i <= tenths; i++)); do
    left=()
    for p in "$@"; do if alive "$p"; then left+=("$p"); fi; done
    [ "${#left[@]}" -gt 0 ] || break
    sleep 0.1
  done
  if [ "${#left[@]}" -gt 0 ]; then
    log "killing processes that ignored SIGTERM: ${left[*]%%:*}"
    signal_procs KILL "${left[@]}"
  fi
  for p in "$@"; do wait "${p%%:*}" 2>/dev/null || true; done
}

cleanup() {
  local rc=$?
  # Do not let another signal interrupt the cleanup half-way.
  trap '' INT TERM HUP
  set +e
  local -a tree=()
  if [ -n "$cmd_pid" ]; then
    # Still running (the script itself failed): stop its whole tree.
    mapfile -t tree < <(proc_tree "$cmd_pid")
    cmd_procs+=("${tree[@]}")
  fi
  stop_procs 100 "${cmd_procs[@]}"
  # The watchdog first: closing the lifeline would otherwise wake it.
  if [ -n "$watchdog" ]; then stop_procs 10 "$watchdog"; fi
  # EOF on its stdin already stops the mock; SIGTERM too, so that stopping
  # does not depend on that alone.
  if [ -n "$lifeline" ]; then exec {lifeline}>&-; fi
  stop_procs 50 $mock $s3 $redis
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
  return "$rc"
}

on_signal() {
  local sig="$1"
  if [ -z "$cmd_pid" ]; then
    # Still starting up: abort; the EXIT trap cleans up.
    received="$sig"
    exit $((128 + $(kill -l "$sig")))
  fi
  # The whole tree, not just the command: wrappers like npm exit on SIGTERM
  # without passing it on. (On Ctrl-C the terminal already signalled them
  # all; a duplicate SIGINT is harmless.)
  local -a tree=()
  mapfile -t tree < <(proc_tree "$cmd_pid")
  cmd_procs+=("${tree[@]}")
  if [ -z "$received" ]; then
    received="$sig"
    signal_procs "$sig" "${tree[@]}"
  else
    log "second signal: killing the command"
    signal_procs KILL "${cmd_procs[@]}"
  fi
}

trap cleanup EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 ||
  die "redis-server/redis-cli not found; run scripts/install-test-deps.sh"
[ -x "$mock_bin" ] || die "$mock_bin not found; run scripts/install-test-deps.sh"
s3_bin="$root/node_modules/.bin/s3rver"
[ -x "$s3_bin" ] || die "$s3_bin not found; run make setup (npm install)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/test-infra.XXXXXX")"

# Lifeline: a FIFO whose only writer is this script. If the script dies in any
# way, the kernel closes it and readers see EOF: the Kafka mock exits on EOF on
# its stdin, and a watchdog stops Redis. Opened read-write so that opening does
# not block for a reader. Every child closes it ({lifeline}>&-), or it would
# keep its own lifeline open.
mkfifo "$tmp/lifeline"
exec {lifeline}<>"$tmp/lifeline"

# ---- Redis -----------------------------------------------------------------
# A port the kernel reports free right now. Another process may still take it
# before redis binds it, so the caller retries on bind failure.
free_port() {
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    echo $((20000 + RANDOM % 12000)) # below Linux's ephemeral range (32768+)
  fi
}

redis_port=""
for attempt in 1 2 3 4 5; do
  port="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$tmp" --logfile "$tmp/redis.log" --daemonize no \
    >"$tmp/redis.out" 2>&1 {lifeline}>&- &
  redis_pid=$!
  redis="$(proc_id "$redis_pid")" || redis="" # exited already: handled below
  deadline=$((SECONDS + start_timeout))
  while :; do
    if ! alive "$redis"; then
      # Most likely the port was taken in the meantime: try another one.
      wait "$redis_pid" 2>/dev/null || true
      redis=""
      log "redis-server on port $port exited during startup (attempt $attempt):"
      tail -n 5 "$tmp/redis.log" "$tmp/redis.out" >&2 2>/dev/null || true
      break
    fi
    # PING must answer, and INFO must show our PID: a foreign server that
    # grabbed the port would also answer PING.
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] &&
      redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' |
      grep -x "process_id:$redis_pid" >/dev/null; then
      redis_port="$port"
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$tmp/redis.log" >&2 2>/dev/null || true
      die "redis-server (pid $redis_pid, port $port) did not answer PING within ${start_timeout}s"
    fi
    sleep 0.05
  done
  [ -z "$redis_port" ] || break
done
[ -n "$redis_port" ] || die "could not start redis-server"

# ---- s3rver ------------------------------------------------------------------
# Binds port 0 itself and prints the port it got, so there is no race for it.
s3_bucket=media-test
mkdir "$tmp/s3"
: >"$tmp/s3rver.out"
"$s3_bin" -d "$tmp/s3" -a 127.0.0.1 -p 0 --silent --configure-bucket "$s3_bucket" \
  >"$tmp/s3rver.out" 2>"$tmp/s3rver.err" {lifeline}>&- &
s3_pid=$!
s3="$(proc_id "$s3_pid")" || s3=""
s3_endpoint=""
deadline=$((SECONDS + start_timeout))
while :; do
  if line="$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$tmp/s3rver.out")"; then
    s3_endpoint="http://127.0.0.1:${line##*:}"
    break
  fi
  if ! alive "$s3"; then
    s3=""
    cat "$tmp/s3rver.err" >&2 || true
    die "s3rver exited before listening"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    cat "$tmp/s3rver.err" >&2 || true
    die "s3rver (pid $s3_pid) did not listen within ${start_timeout}s"
  fi
  sleep 0.05
done

# Watchdog: blocks until EOF on the lifeline, i.e. until this script is gone
# without having stopped it first (cleanup does), then stops Redis and s3rver
# and removes the temp dir.
(
  while read -r _; do :; done <"$tmp/lifeline"
  stop_procs 50 "$redis" $s3
  rm -rf "$tmp"
) {lifeline}>&- &
watchdog="$(proc_id $!)"

# ---- Kafka mock ------------------------------------------------------------
: >"$tmp/kafka-mock.out" # exists before the first poll below
"$mock_bin" 1 <"$tmp/lifeline" {lifeline}>&- \
  >"$tmp/kafka-mock.out" 2>"$tmp/kafka-mock.err" &
mock_pid=$!
mock="$(proc_id "$mock_pid")" || mock=""

kafka_brokers=""
deadline=$((SECONDS + start_timeout))
while :; do
  # `read` succeeds only once the whole line (with its newline) is there.
  if IFS= read -r line <"$tmp/kafka-mock.out"; then
    kafka_brokers="$line"
    break
  fi
  if ! alive "$mock"; then
    status=0
    wait "$mock_pid" 2>/dev/null || status=$?
    mock=""
    cat "$tmp/kafka-mock.err" >&2 || true
    die "kafka-mock exited (status $status) before printing its bootstrap servers"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    cat "$tmp/kafka-mock.err" >&2 || true
    die "kafka-mock (pid $mock_pid) printed no bootstrap servers within ${start_timeout}s"
  fi
  sleep 0.02
done
[[ "$kafka_brokers" =~ ^[^,[:space:]]+:[0-9]+(,[^,[:space:]]+:[0-9]+)*$ ]] ||
  die "kafka-mock printed an unexpected bootstrap line: '$kafka_brokers'"

# ---- Command -----------------------------------------------------------------
export REDIS_URL="redis://127.0.0.1:$redis_port"
export KAFKA_BROKERS="$kafka_brokers"
export S3_ENDPOINT="$s3_endpoint" S3_BUCKET="$s3_bucket" S3_REGION=us-east-1
export S3_ACCESS_KEY_ID=S3RVER S3_SECRET_ACCESS_KEY=S3RVER # s3rver's fixed test keys
log "REDIS_URL=$REDIS_URL KAFKA_BROKERS=$KAFKA_BROKERS S3_ENDPOINT=$S3_ENDPOINT"

# Run the command in the background and `wait` for it: bash runs traps only
# between commands, and `wait` is the one place a trapped signal interrupts.
# Background jobs of a non-interactive shell get SIGINT/SIGQUIT ignored and
# stdin from /dev/null; undo both so the command behaves as in the foreground.
(
  trap - INT QUIT
  exec "$@"
) <&0 {lifeline}>&- &
cmd_pid=$!

while :; do
  rc=0
  wait "$cmd_pid" || rc=$?
  # `wait` also returns (status > 128) when a trapped signal arrives; keep
  # waiting until the command has really exited.
  if [ -z "$received" ] || ! proc_id "$cmd_pid" >/dev/null; then break; fi
done
cmd_pid=""

if [ -n "$received" ]; then
  cleanup || true
  trap - EXIT "$received"
  kill "-$received" "$$"
  exit $((128 + $(kill -l "$received"))) # should the signal not be fatal
fi
exit "$rc"
