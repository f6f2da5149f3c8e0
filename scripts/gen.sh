#!/usr/bin/env bash
# Regenerates gen/ from proto/: TypeScript types and grpc-js stubs (ts-proto)
# and the binary FileDescriptorSet (with comments and custom options) that the
# gateway and the policy interceptors read at start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/proto-deps.sh
npx buf generate
npx buf build proto --as-file-descriptor-set -o gen/descriptor.binpb
