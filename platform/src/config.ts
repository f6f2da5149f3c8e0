import { z } from 'zod';
import { TRACES_EXPORTERS, TRACES_SAMPLERS } from './tracing/index.ts';

/**
 * One environment variable: its name, what it means, how it is parsed and its
 * default. A service's `config.ts` lists its settings; `loadConfig` reads them
 * all at start-up, so a bad value stops the process before it serves anything.
 */
export interface Setting<T> {
  readonly env: string;
  readonly description: string;
  /** The default as an operator would write it; undefined means required. */
  readonly defaultValue: string | undefined;
  /** Secrets are never echoed back in error messages or docs. */
  readonly secret: boolean;
  readonly schema: z.ZodType<T>;
}

export type ConfigSpec = Record<string, Setting<unknown>>;
export type ConfigOf<S extends ConfigSpec> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

interface SettingOptions {
  description: string;
  secret?: boolean;
}

function define<T>(
  env: string,
  schema: z.ZodType<T>,
  defaultValue: string | undefined,
  opts: SettingOptions,
): Setting<T> {
  return {
    env,
    schema,
    defaultValue,
    description: opts.description,
    secret: opts.secret ?? false,
  };
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, `must be an integer between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const booleanText = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Builders for the kinds of value the services read. */
export const setting = {
  string: (env: string, defaultValue: string | undefined, opts: SettingOptions) =>
    define(env, z.string().min(1, 'must not be empty'), defaultValue, opts),
  /** A string that may stay unset: empty then. Whoever reads it checks a value that is set. */
  optionalString: (env: string, opts: SettingOptions) => define(env, z.string(), '', opts),
  int: (env: string, defaultValue: number | undefined, range: { min: number; max: number }, opts: SettingOptions) =>
    define(env, integer(range.min, range.max), defaultValue?.toString(), opts),
  /** A TCP port; 0 asks the OS for a free one. */
  port: (env: string, defaultValue: number, opts: SettingOptions) =>
    define(env, integer(0, 65535), String(defaultValue), opts),
  bool: (env: string, defaultValue: boolean, opts: SettingOptions) =>
    define(env, booleanText, String(defaultValue), opts),
  oneOf: <const V extends readonly [string, ...string[]]>(
    env: string,
    values: V,
    defaultValue: V[number],
    opts: SettingOptions,
  ) => define(env, z.enum(values) as unknown as z.ZodType<V[number]>, defaultValue, opts),
  url: (env: string, defaultValue: string | undefined, opts: SettingOptions) =>
    define(env, z.url('must be a URL'), defaultValue, opts),
  /** Comma-separated list; blanks are dropped. */
  list: (env: string, defaultValue: string, opts: SettingOptions) =>
    define(
      env,
      z.string().transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      ),
      defaultValue,
      opts,
    ),
  /** `host:port`. */
  address: (env: string, defaultValue: string, opts: SettingOptions) =>
    define(env, z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port'), defaultValue, opts),
};

/**
 * Reads every setting of `spec` from `env`. Collects all problems before
 * failing so an operator fixes a broken deployment in one pass.
 */
export function loadConfig<S extends ConfigSpec>(
  spec: S,
  env: Readonly<Record<string, string | undefined>>,
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(spec)) {
    const raw = env[s.env];
    const value = raw === undefined || raw === '' ? s.defaultValue : raw;
    if (value === undefined) {
      problems.push(`${s.env}: is required (${s.description})`);
      continue;
    }
    const parsed = s.schema.safeParse(value);
    if (parsed.success) {
      out[key] = parsed.data;
    } else {
      const reason = parsed.error.issues.map((i) => i.message).join('; ');
      const shown = s.secret ? '' : ` (got ${JSON.stringify(value)})`;
      problems.push(`${s.env}: ${reason}${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** Settings every process has. */
export const commonSettings = {
  logLevel: setting.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', {
    description: 'Minimum level of log lines written to stdout.',
  }),
  shutdownGraceMs: setting.int(
    'SHUTDOWN_GRACE_MS',
    10000,
    { min: 0, max: 600000 },
    {
      description: 'How long in-flight calls may run after SIGTERM before they are cancelled.',
    },
  ),
  tracesExporter: setting.oneOf('OTEL_TRACES_EXPORTER', TRACES_EXPORTERS, 'none', {
    description:
      'Distributed tracing (OpenTelemetry): none turns it off (no spans are made); otlp sends spans over OTLP/HTTP (JSON) to OTEL_EXPORTER_OTLP_ENDPOINT.',
  }),
  otlpEndpoint: setting.optionalString('OTEL_EXPORTER_OTLP_ENDPOINT', {
    description:
      'Base URL of the OTLP/HTTP receiver (an OpenTelemetry Collector, Jaeger or Tempo, e.g. http://otel-collector:4318); spans go to its /v1/traces. Required with OTEL_TRACES_EXPORTER=otlp.',
  }),
  otelServiceName: setting.optionalString('OTEL_SERVICE_NAME', {
    description: "The traces' service.name; unset: the process's own name (auth, user, chat, subscriber, api-gateway).",
  }),
  tracesSampler: setting.oneOf('OTEL_TRACES_SAMPLER', TRACES_SAMPLERS, 'parentbased_always_on', {
    description:
      "Which traces are recorded; parentbased_*: an incoming traceparent's sampled flag decides, the named sampler only for traces this process starts.",
  }),
  tracesSamplerArg: define(
    'OTEL_TRACES_SAMPLER_ARG',
    z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
      .transform(Number),
    '1',
    { description: 'The ratio of traces the *traceidratio samplers record, from 0 to 1.' },
  ),
} satisfies ConfigSpec;
