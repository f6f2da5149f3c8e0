#!/usr/bin/env bash
# Fails when gen/ is not what `make gen` produces from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/gen.sh
if ! git diff --quiet --exit-code -- gen || [ -n "$(git ls-files --others --exclude-standard gen)" ]; then
  echo "check-gen: gen/ is out of date with proto/; run 'make gen' and commit the result" >&2
  git status --short gen >&2
  exit 1
fi
echo "check-gen: gen/ matches proto/"
