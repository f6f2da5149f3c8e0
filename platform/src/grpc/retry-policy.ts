import type { ApiCatalog } from '../api-catalog.ts';

/** Attempts of a call the contracts declare safe to retry, the first included, unless a caller says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Backoff between attempts: 50 ms, doubling, at most 1 s (grpc-js adds its own jitter). */
export const RETRY_BACKOFF = { initialMs: 50, maxMs: 1000, multiplier: 2 } as const;

/**
 * The grpc-js service config of a channel to `services`: round robin over
 * every address the name resolves to (headless Services in Kubernetes; one
 * address behaves as pick-first), and retries on UNAVAILABLE for exactly the
 * methods the contracts declare NO_SIDE_EFFECTS or IDEMPOTENT — a call that
 * may have had an effect is never sent twice.
 */
export function channelServiceConfig(
  services: readonly string[],
  catalog: ApiCatalog,
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
): object {
  const name: { service: string; method: string }[] = [];
  for (const info of catalog.methods()) {
    if (info.idempotent && services.includes(info.service)) name.push({ service: info.service, method: info.name });
  }
  // grpc-js refuses a retry policy of fewer than 2 attempts: one attempt means no policy.
  const methodConfig =
    name.length === 0 || maxAttempts < 2
      ? []
      : [
          {
            name,
            retryPolicy: {
              maxAttempts,
              initialBackoff: `${RETRY_BACKOFF.initialMs / 1000}s`,
              maxBackoff: `${RETRY_BACKOFF.maxMs / 1000}s`,
              backoffMultiplier: RETRY_BACKOFF.multiplier,
              retryableStatusCodes: ['UNAVAILABLE'],
            },
          },
        ];
  return { loadBalancingConfig: [{ round_robin: {} }], methodConfig };
}
