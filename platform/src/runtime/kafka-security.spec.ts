// The Kafka security settings as an operator writes them (environment) and
// the kafkajs options they become; bad combinations stop start-up.
import { ConfigError, loadConfig } from '../config.ts';
import { kafkaSecurityOptions } from './kafka-security.ts';
import { runtimeSettings } from './service-runtime.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const files: Record<string, string> = { '/etc/kafka/ca.pem': PEM };
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return text;
};

function optionsFor(env: Record<string, string>) {
  return kafkaSecurityOptions(loadConfig(runtimeSettings, { EVENT_BUS: 'kafka', ...env }), readFile);
}

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    optionsFor(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('accepted');
}

describe('Kafka TLS and SASL settings → kafkajs options', () => {
  it('passes neither ssl nor sasl by default (plaintext, as the local cluster runs)', () => {
    expect(optionsFor({})).toEqual({});
  });

  it('turns KAFKA_SSL on with the system CAs, or with the CA file’s contents', () => {
    expect(optionsFor({ KAFKA_SSL: 'true' })).toEqual({ ssl: true });
    expect(optionsFor({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/etc/kafka/ca.pem' })).toEqual({ ssl: { ca: [PEM] } });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('passes SASL %s with its credentials', (mechanism) => {
    expect(
      optionsFor({
        KAFKA_SSL: 'true',
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: 'messenger',
        KAFKA_SASL_PASSWORD: 'pa55',
      }),
    ).toEqual({ ssl: true, sasl: { mechanism, username: 'messenger', password: 'pa55' } });
  });

  it('allows SCRAM without TLS (the password never crosses the wire)', () => {
    expect(
      optionsFor({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }),
    ).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
  });

  it('refuses an unknown mechanism when the configuration is loaded', () => {
    expect(() => loadConfig(runtimeSettings, { KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(/KAFKA_SASL_MECHANISM/);
  });

  it('refuses combinations that cannot work, naming each, never the password', () => {
    expect(problemsOf({ KAFKA_SASL_MECHANISM: 'scram-sha-256' })).toEqual([
      'KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM=scram-sha-256',
      'KAFKA_SASL_PASSWORD: is required with KAFKA_SASL_MECHANISM=scram-sha-256',
    ]);
    expect(problemsOf({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'hunter2' })).toEqual([
      'KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: set, but KAFKA_SASL_MECHANISM is none',
    ]);
    expect(
      problemsOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'hunter2' }),
    ).toEqual(['KAFKA_SASL_MECHANISM: plain sends the password as is; it needs KAFKA_SSL=true']);
    expect(problemsOf({ KAFKA_SSL_CA_FILE: '/etc/kafka/ca.pem' })).toEqual([
      'KAFKA_SSL_CA_FILE: is set, but KAFKA_SSL is false (set KAFKA_SSL=true)',
    ]);
    expect(problemsOf({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/missing.pem' })).toEqual([
      'KAFKA_SSL_CA_FILE: cannot read "/missing.pem" (ENOENT)',
    ]);
  });
});
