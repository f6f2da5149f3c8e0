// Test helpers shared by the services' test suites; never imported by production code.
export * from './event-bus.ts';
export * from './free-port.ts';
export * from './grpc-call.ts';
export * from './mongo.ts';
export * from './node-process.ts';
export * from './sqlite-plans.ts';
export * from './test-auth.ts';
export * from './tls.ts';
