import { type ConfigOf, type ConfigSpec, loadConfig, runtimeSettings, setting } from '@messenger/platform';

/** Every setting of the user service; the only place its environment is read. */
export const userSettings = {
  ...runtimeSettings,
  grpcHost: setting.string('USER_GRPC_HOST', '127.0.0.1', {
    description: 'Interface the gRPC server binds (0.0.0.0 in a container).',
  }),
  grpcPort: setting.port('USER_GRPC_PORT', 50052, { description: 'gRPC port; 0 picks a free one.' }),
  store: setting.oneOf('USER_STORE', ['memory', 'mongo'], 'memory', {
    description: 'Where profiles live: in process memory (embedded mode, lost on exit) or MongoDB.',
  }),
  mongoUrl: setting.string('USER_MONGODB_URL', 'mongodb://127.0.0.1:27017/?replicaSet=rs0', {
    description: 'MongoDB connection string (a replica set: writes use transactions); used when USER_STORE=mongo.',
    secret: true,
  }),
  mongoDatabase: setting.string('USER_MONGODB_DATABASE', 'user', { description: 'The database the service owns.' }),
} satisfies ConfigSpec;

export type UserConfig = ConfigOf<typeof userSettings>;

export function loadUserConfig(env: Readonly<Record<string, string | undefined>>): UserConfig {
  return loadConfig(userSettings, env);
}
