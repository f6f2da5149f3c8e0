// The gateway's public API, for the composition roots (embedded runner, container main).
export { build, type GatewayOptions, RESERVED_PATHS } from './app.ts';
export { type GatewayConfig, gatewaySettings, loadGatewayConfig, rateLimitBudgetsOf, upstreamsOf } from './config.ts';
export { Code, type StatusBody } from './errors/status.ts';
export { mediaOptionsOf } from './media/media-config.ts';
export type { MediaOptions } from './media/media-plugin.ts';
export type { AuthOptions } from './plugins/auth/auth.plugin.ts';
export type { AccessTokenVerifier, RevocationCheck } from './plugins/auth/token-gate.ts';
export type { OpenApiOptions } from './plugins/openapi/openapi-document.ts';
export { buildOpenApiDocument } from './plugins/openapi/openapi-document.ts';
export {
  DEFAULT_BUDGETS,
  type RateLimitBudget,
  type RateLimitBudgets,
} from './plugins/rate-limit/rate-limit.plugin.ts';
export { compileRouteTable, type Route, RouteTableError } from './routing/route-table.ts';
export { type ListenOptions, type RunningGateway, startGateway } from './server.ts';
export { createGrpcUpstream, type GrpcUpstreamOptions } from './upstream/grpc-upstream.ts';
export { createHttp2Upstream, type Http2UpstreamOptions } from './upstream/http2-upstream.ts';
export type { Upstream, UpstreamTransport } from './upstream/upstream.ts';
