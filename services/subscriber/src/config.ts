import {
  type ConfigOf,
  type ConfigSpec,
  loadConfig,
  runtimeSettings,
  serviceAddressSettings,
  setting,
} from '@messenger/platform';

/** Every setting of the subscriber service; the only place its environment is read. */
export const subscriberSettings = {
  ...runtimeSettings,
  grpcHost: setting.string('SUBSCRIBER_GRPC_HOST', '127.0.0.1', {
    description: 'Interface the gRPC server binds (0.0.0.0 in a container).',
  }),
  grpcPort: setting.port('SUBSCRIBER_GRPC_PORT', 50054, { description: 'gRPC port; 0 picks a free one.' }),
  store: setting.oneOf('SUBSCRIBER_STORE', ['memory', 'mongo'], 'memory', {
    description: 'Where friendships live: in process memory (embedded mode, lost on exit) or MongoDB.',
  }),
  mongoUrl: setting.string('SUBSCRIBER_MONGODB_URL', 'mongodb://127.0.0.1:27017/?replicaSet=rs0', {
    description:
      'MongoDB connection string (a replica set: writes use transactions); used when SUBSCRIBER_STORE=mongo.',
    secret: true,
  }),
  mongoDatabase: setting.string('SUBSCRIBER_MONGODB_DATABASE', 'subscriber', {
    description: 'The database the service owns.',
  }),
  userServiceAddress: serviceAddressSettings.userServiceAddress,
  serviceSecret: setting.string('SUBSCRIBER_SERVICE_SECRET', 'dev-only-subscriber-secret', {
    description:
      'The shared secret this service exchanges for its service token (IssueServiceToken). The default suits a local development auth service only; set a real one in every deployment.',
    secret: true,
  }),
} satisfies ConfigSpec;

export type SubscriberConfig = ConfigOf<typeof subscriberSettings>;

export function loadSubscriberConfig(env: Readonly<Record<string, string | undefined>>): SubscriberConfig {
  return loadConfig(subscriberSettings, env);
}
