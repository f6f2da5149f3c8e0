import { ConfigError, loadConfig, setting } from './config.ts';

const spec = {
  port: setting.port('TEST_GRPC_PORT', 50051, { description: 'gRPC port' }),
  mode: setting.oneOf('TEST_MODE', ['embedded', 'cluster'], 'embedded', {
    description: 'run mode',
  }),
  admins: setting.list('TEST_ADMINS', '', { description: 'admin emails' }),
  secret: setting.string('TEST_SECRET', undefined, {
    description: 'signing secret',
    secret: true,
  }),
  debug: setting.bool('TEST_DEBUG', false, { description: 'debug' }),
};

describe('loadConfig', () => {
  it('applies defaults and parses typed values', () => {
    const cfg = loadConfig(spec, {
      TEST_SECRET: 's3cret',
      TEST_ADMINS: 'a@x.io, b@x.io,,',
      TEST_DEBUG: '1',
    });
    expect(cfg).toEqual({
      port: 50051,
      mode: 'embedded',
      admins: ['a@x.io', 'b@x.io'],
      secret: 's3cret',
      debug: true,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig(spec, { TEST_SECRET: 'x', TEST_GRPC_PORT: '' }).port).toBe(50051);
  });

  it('stops on a non-numeric port, naming the variable and the value', () => {
    expect(() => loadConfig(spec, { TEST_SECRET: 'x', TEST_GRPC_PORT: 'eighty' })).toThrow(
      /TEST_GRPC_PORT: must be an integer between 0 and 65535 \(got "eighty"\)/,
    );
  });

  it('rejects out-of-range numbers and unknown enum values', () => {
    expect(() => loadConfig(spec, { TEST_SECRET: 'x', TEST_GRPC_PORT: '70000' })).toThrow(/TEST_GRPC_PORT/);
    expect(() => loadConfig(spec, { TEST_SECRET: 'x', TEST_MODE: 'cloud' })).toThrow(/TEST_MODE/);
  });

  it('reports every problem at once and never echoes a secret', () => {
    let error: unknown;
    try {
      loadConfig(
        {
          ...spec,
          secret: setting.int('TEST_SECRET', undefined, { min: 0, max: 1 }, { description: 'x', secret: true }),
        },
        {
          TEST_GRPC_PORT: 'x',
          TEST_SECRET: 'hunter2',
        },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems.join()).toContain('TEST_SECRET');
    expect(problems.join()).not.toContain('hunter2');
  });

  it('names a missing required variable', () => {
    expect(() => loadConfig(spec, {})).toThrow(/TEST_SECRET: is required/);
  });
});
