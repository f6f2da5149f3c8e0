import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';
import type { ServiceTokenSource } from '../auth/service-token-source.ts';
import type { DomainError } from '../domain/errors.ts';
import type { ClientConstructor, ClientPool } from './client-pool.ts';
import { outgoingMetadata } from './client-pool.ts';

export interface OutboundCallerOptions<C extends Client> {
  readonly pool: ClientPool;
  /** The generated client of the service called. */
  readonly client: ClientConstructor<C>;
  /** host:port of the service called. */
  readonly address: string;
  /** This service's own credential, presented on every call. */
  readonly tokens: ServiceTokenSource;
  /**
   * The error the caller's caller sees when the call fails. Whatever went
   * wrong upstream — even its UNAUTHENTICATED for this service's credential —
   * is not that caller's fault, so it is one retryable failure; the cause is
   * kept on it for the logs.
   */
  readonly unavailable: () => DomainError;
}

/** A generated client method in callback form, bound to its request. */
export type UnaryInvocation<C, R> = (
  client: C,
  metadata: Metadata,
  done: (error: ServiceError | null, response: R) => void,
) => void;

/** Calls one method of another service as this service, with the request id carried on. */
export type OutboundCaller<C> = <R>(requestId: string, invoke: UnaryInvocation<C, R>) => Promise<R>;

/**
 * Promise-based calls from one service to another: the shared channel from
 * the pool, this service's token and the request id in the metadata, and any
 * failure turned into the caller's `unavailable` error.
 */
export function createOutboundCaller<C extends Client>(opts: OutboundCallerOptions<C>): OutboundCaller<C> {
  return async (requestId, invoke) => {
    try {
      const metadata = outgoingMetadata(requestId, await opts.tokens.token());
      const client = opts.pool.get(opts.client, opts.address);
      return await new Promise((resolve, reject) => {
        invoke(client, metadata, (error, response) => (error ? reject(error) : resolve(response)));
      });
    } catch (cause) {
      const error = opts.unavailable();
      error.cause = cause;
      throw error;
    }
  };
}
