// How the Kafka settings (KAFKA_SSL, KAFKA_SASL_*) become kafkajs's `ssl` and
// `sasl` options, and which combinations are refused at start-up.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { ConfigError } from '../config.ts';

export interface KafkaSecuritySettings {
  readonly kafkaSsl: boolean;
  readonly kafkaSslCaFile: string;
  readonly kafkaSaslMechanism: 'none' | 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly kafkaSaslUsername: string;
  readonly kafkaSaslPassword: string;
}

export interface KafkaSecurityOptions {
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
}

/**
 * kafkajs's `ssl` and `sasl` options for these settings; throws a
 * ConfigError listing every problem (never the password) for a combination
 * that cannot work: credentials without a mechanism or the reverse, a CA file
 * without TLS or that cannot be read, or plain SASL without TLS.
 */
export function kafkaSecurityOptions(
  settings: KafkaSecuritySettings,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): KafkaSecurityOptions {
  const problems: string[] = [];
  const { kafkaSsl: ssl, kafkaSslCaFile: caFile, kafkaSaslMechanism: mechanism } = settings;
  const username = settings.kafkaSaslUsername;
  const password = settings.kafkaSaslPassword;

  let tls: boolean | ConnectionOptions | undefined;
  if (caFile !== '') {
    if (!ssl) problems.push('KAFKA_SSL_CA_FILE: is set, but KAFKA_SSL is false (set KAFKA_SSL=true)');
    else {
      try {
        tls = { ca: [readFile(caFile)] };
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        problems.push(`KAFKA_SSL_CA_FILE: cannot read ${JSON.stringify(caFile)} (${reason})`);
      }
    }
  } else if (ssl) {
    tls = true;
  }

  let sasl: SASLOptions | undefined;
  if (mechanism === 'none') {
    const set = [username !== '' && 'KAFKA_SASL_USERNAME', password !== '' && 'KAFKA_SASL_PASSWORD'].filter(Boolean);
    if (set.length > 0) problems.push(`${set.join(', ')}: set, but KAFKA_SASL_MECHANISM is none`);
  } else {
    if (username === '') problems.push(`KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    if (password === '') problems.push(`KAFKA_SASL_PASSWORD: is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    if (mechanism === 'plain' && !ssl) {
      problems.push('KAFKA_SASL_MECHANISM: plain sends the password as is; it needs KAFKA_SSL=true');
    }
    sasl = { mechanism, username, password };
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { ...(tls !== undefined ? { ssl: tls } : {}), ...(sasl ? { sasl } : {}) };
}
