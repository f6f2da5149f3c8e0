// Every subpath at once. Kept only while imports move to the subpaths.
export * from './api-catalog.ts';
export * from './auth/index.ts';
export * from './auth/redis-revocation-list.ts';
export * from './config.ts';
export * from './domain/index.ts';
export * from './events/index.ts';
export * from './events/kafka-event-bus.ts';
export * from './grpc/index.ts';
export * from './lifecycle.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './mongo/index.ts';
export * from './runtime/index.ts';
