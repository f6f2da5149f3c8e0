#!/usr/bin/env bash
# Fails when proto/ breaks the contracts of the previous commit (buf FILE rules).
# The previous commit's proto/ is built in a scratch dir with the same
# third-party imports, since a plain git input would not resolve them.
set -euo pipefail
cd "$(dirname "$0")/.."
against="${1:-HEAD~1}"
if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
  echo "check-breaking: no commit $against to compare with; skipped"
  exit 0
fi
if [ -z "$(git ls-tree -d "$against" proto)" ]; then
  echo "check-breaking: $against has no proto/; nothing to break"
  exit 0
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git archive "$against" proto | tar -x -C "$scratch"
mkdir -p "$scratch/.build"
cp -r .build/proto-deps "$scratch/.build/"
printf 'version: v2\nmodules:\n  - path: proto\n  - path: .build/proto-deps\n' >"$scratch/buf.yaml"
buf="$PWD/node_modules/.bin/buf"
(cd "$scratch" && "$buf" build proto -o "$scratch/previous.binpb")
"$buf" breaking proto --against "$scratch/previous.binpb"
echo "check-breaking: proto/ is compatible with $against"
