#!/bin/sh
# docker-compose's kafka-init: creates every messenger topic and its dead-letter
# topic (4 partitions: events are keyed by aggregate id, so 4 consumers of a
# group share a topic), then exits 0. Idempotent (--if-not-exists).
# A broker that reports healthy may still refuse admin requests for a moment
# (controller election), so each attempt is retried: ATTEMPTS times,
# RETRY_DELAY_SECONDS apart, then it exits non-zero and compose reports it.
set -eu
bootstrap="${BOOTSTRAP:-kafka:9092}"
kafka_bin="${KAFKA_BIN:-/opt/kafka/bin}"
attempts="${ATTEMPTS:-30}"
delay="${RETRY_DELAY_SECONDS:-2}"

retry() {
  n=1
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      echo "kafka-init: gave up after $n attempts: $*" >&2
      return 1
    fi
    echo "kafka-init: attempt $n failed, retrying in ${delay}s" >&2
    n=$((n + 1))
    sleep "$delay"
  done
}

for service in auth user subscriber chat; do
  for topic in "$service.events" "$service.events.dlq"; do
    retry "$kafka_bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
      --topic "$topic" --partitions 4 --replication-factor 1
  done
done
# Typing signals: read live by every chat replica, worthless after seconds.
retry "$kafka_bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
  --topic chat.ephemeral --partitions 4 --replication-factor 1 --config retention.ms=60000
retry "$kafka_bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --list
