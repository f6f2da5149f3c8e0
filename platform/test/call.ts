// Test-only: promise wrappers over grpc-js dynamic clients.
import type { CallOptions, Client, Metadata, ServiceError } from '@grpc/grpc-js';
import { Metadata as GrpcMetadata } from '@grpc/grpc-js';

type UnaryFn = (
  req: unknown,
  md: Metadata,
  opts: CallOptions,
  cb: (err: ServiceError | null, res: unknown) => void,
) => unknown;

export function unary<T = Record<string, unknown>>(
  client: Client,
  method: string,
  request: object,
  opts: {
    metadata?: Metadata;
    deadlineMs?: number;
    onTrailers?: (md: Metadata) => void;
  } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, UnaryFn>)[method];
    if (!fn) throw new Error(`no method ${method}`);
    const callOpts: CallOptions = opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {};
    const call = fn.call(client, request, opts.metadata ?? new GrpcMetadata(), callOpts, (err, res) =>
      err ? reject(err) : resolve(res as T),
    ) as { on(ev: 'status', cb: (s: { metadata: Metadata }) => void): void };
    if (opts.onTrailers) call.on('status', (s) => opts.onTrailers?.(s.metadata));
  });
}

/** Resolves with the error a call fails with; rejects if it succeeds. */
export async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('expected the call to fail');
}
