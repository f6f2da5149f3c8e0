export * from './connection.ts';
export * from './grpc-framing.ts';
