#!/usr/bin/env bash
# Copies the third-party .proto files the contracts import from the
# google-proto-files npm package into .build/proto-deps (ignored by git).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/node_modules/google-proto-files"
dst="$root/.build/proto-deps"
files=(
  google/api/annotations.proto
  google/api/http.proto
  google/api/field_behavior.proto
  google/rpc/status.proto
  google/rpc/error_details.proto
  google/rpc/code.proto
)
for f in "${files[@]}"; do
  mkdir -p "$dst/$(dirname "$f")"
  cp "$src/$f" "$dst/$f"
done
