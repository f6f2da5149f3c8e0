// The platform's public API. Services import only from '@messenger/platform'.
export * from './api-catalog.ts';
export * from './auth/index.ts';
export * from './auth-context.ts';
export * from './config.ts';
export * from './errors.ts';
export * from './events/index.ts';
export * from './grpc-client.ts';
export * from './grpc-server.ts';
export * from './lifecycle.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './mongo/open-mongo-store.ts';
export * from './mongo/transaction.ts';
export * from './runtime/auth-service-client.ts';
export * from './runtime/service-runtime.ts';
export * from './store-error.ts';
