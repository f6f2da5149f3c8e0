// gRPC on both sides: the server bootstrap, the client pool, status mapping,
// caller identity and calls from one service to another.
export * from './auth-context.ts';
export * from './client-pool.ts';
export * from './outbound-caller.ts';
export * from './retry-policy.ts';
export * from './server.ts';
export * from './status.ts';
export * from './tls.ts';
