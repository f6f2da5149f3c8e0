#!/bin/sh
# docker-compose's kafka-init: creates every messenger topic and its dead-letter
# topic (4 partitions: events are keyed by aggregate id, so 4 consumers of a
# group share a topic), then exits 0. Idempotent (--if-not-exists).
set -eu
bootstrap="${BOOTSTRAP:-kafka:9092}"
for service in auth user subscriber chat; do
  for topic in "$service.events" "$service.events.dlq"; do
    /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --create --if-not-exists \
      --topic "$topic" --partitions 4 --replication-factor 1
  done
done
/opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --list
