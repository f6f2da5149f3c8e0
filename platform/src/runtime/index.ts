// What every service process shares at start-up.
export * from './auth-service-client.ts';
export * from './grpc-tls.ts';
export * from './service-runtime.ts';
export * from './workers.ts';
