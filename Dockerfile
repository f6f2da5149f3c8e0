# syntax=docker/dockerfile:1
# One image for every messenger process (auth, user, chat, subscriber, the
# gateway): the command names the entry point, e.g.
#   docker run messenger services/user/src/main.ts
# Why one image: the processes share gen/, platform/ and almost all of their
# dependencies, Node runs the TypeScript sources directly (no build step), so
# per-service images would differ only in which main.ts they start while each
# repeating the same ~100 MB layer; one image is built, scanned and promoted
# once, and a release is one tag. docs/OPERATIONS.md has the details.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- deps: production dependencies only, from the lock ------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Only the manifests, so this layer is rebuilt only when dependencies change.
COPY package.json package-lock.json ./
COPY gen/package.json gen/
COPY platform/package.json platform/
COPY services/auth/package.json services/auth/
COPY services/chat/package.json services/chat/
COPY services/subscriber/package.json services/subscriber/
COPY services/notification/package.json services/notification/
COPY services/user/package.json services/user/
COPY api-gateway/package.json api-gateway/
COPY embedded/package.json embedded/
# `npm install` rather than `npm ci`: the lock is written where the registry
# carries only linux builds of per-platform packages, and `npm ci`'s strict
# check refuses such a lock; `npm install` honours it (see the Makefile).
# No install scripts: no production dependency needs one.
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts \
  && npm cache clean --force

# --- runtime ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# node_modules at every level (npm nests a few packages under workspaces) and
# the workspace links, owned by root: the process cannot modify its own code.
COPY --from=deps /app/ ./
COPY gen/ gen/
COPY platform/ platform/
COPY services/ services/
COPY api-gateway/ api-gateway/
# The example client the gateway serves at /examples/chat (GATEWAY_EXAMPLE_CLIENT).
COPY examples/ examples/
COPY scripts/grpc-health-check.ts scripts/
# The `node` user of the base image, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 50051 50052 50053 50054
# Finds which process runs here from its command line and asks it: gRPC
# health (grpc.health.v1) for services, GET /healthz for the gateway.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "scripts/grpc-health-check.ts"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node"]
# The gateway by default, with the node flags it runs with (scripts/deploy/processes.ts).
CMD ["--max-semi-space-size=16", "--no-allocation-site-pretenuring", "api-gateway/src/main.ts"]
