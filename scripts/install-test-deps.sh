#!/usr/bin/env bash
# Installs what scripts/with-test-infra.sh needs and builds the Kafka mock.
# Idempotent: apt runs only when a package is missing (then `apt-get update`
# once), and the mock is recompiled only when its binary is missing or older
# than its source. CI is a fresh Debian running as root; elsewhere apt-get runs
# through sudo when available.
#   redis-server    Redis for tests (also pulls redis-tools: redis-cli)
#   librdkafka-dev  librdkafka and rdkafka_mock.h, for tools/kafka-mock
#   gcc, pkg-config to build tools/kafka-mock
#   openssl         the command line that signs the TLS tests' certificates
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/tools/kafka-mock/kafka-mock.c"
bin="$root/.build/kafka-mock"

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
dpkg -s librdkafka-dev >/dev/null 2>&1 || missing+=(librdkafka-dev)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
# gcc alone cannot link without libc headers; libc6-dev normally comes with gcc.
dpkg -s libc6-dev >/dev/null 2>&1 || missing+=(libc6-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v openssl >/dev/null 2>&1 || missing+=(openssl) # platform/testing/tls.ts: a CA per TLS test file
command -v chromium >/dev/null 2>&1 || missing+=(chromium) # the gateway's Swagger UI browser test (playwright-core)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose) # `docker-compose config` validates docker-compose.yml (test/deploy)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus) # `promtool test rules` runs the alert rules' unit tests (test/deploy)

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install-test-deps: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "install-test-deps: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# -nt is false when the binary is missing, hence the explicit -x check.
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
  echo "install-test-deps: building $bin" >&2
  mkdir -p "$(dirname "$bin")"
  # pkg-config knows librdkafka's flags; fall back to plain -lrdkafka.
  if flags="$(pkg-config --cflags --libs rdkafka 2>/dev/null)"; then :; else flags="-lrdkafka"; fi
  # Build to a temp name and rename, so an interrupted build never leaves a
  # truncated binary that looks up to date.
  # shellcheck disable=SC2086 # $flags is a word list on purpose
  gcc -O2 -Wall -Wextra -o "$bin.tmp.$$" "$src" $flags
  mv -f "$bin.tmp.$$" "$bin"
fi
