import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo } from '@messenger/gen/google/rpc/error_details';
import { Status } from '@messenger/gen/google/rpc/status';
import { DomainError, type ErrorKind, type FieldViolation } from '../domain/errors.ts';

const CODE_OF_KIND: Record<ErrorKind, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  aborted: GrpcStatus.ABORTED,
  unavailable: GrpcStatus.UNAVAILABLE,
};

/** The trailer grpc-go, grpc-gateway and grpcurl read rich error details from. */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const ERROR_DOMAIN = 'messenger';

export interface GrpcErrorPayload {
  code: GrpcStatus;
  details: string;
  metadata: Metadata;
}

/**
 * Turns a DomainError into a gRPC status with `google.rpc.Status` details
 * (ErrorInfo with the reason; BadRequest with field violations). Anything else
 * becomes INTERNAL with a generic message and the error id that the server
 * logged next to the real cause.
 */
export function toGrpcError(error: unknown, errorId: string): GrpcErrorPayload {
  if (error instanceof DomainError) {
    const code = CODE_OF_KIND[error.kind];
    const details = [
      {
        typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
        value: Buffer.from(
          ErrorInfo.encode({
            reason: error.reason,
            domain: ERROR_DOMAIN,
            metadata: {},
          }).finish(),
        ),
      },
    ];
    if (error.violations.length > 0) {
      details.push({
        typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
        value: Buffer.from(
          BadRequest.encode({
            fieldViolations: error.violations.map((v) => ({
              field: v.field,
              description: v.description,
              reason: '',
              localizedMessage: undefined,
            })),
          }).finish(),
        ),
      });
    }
    return withDetails(code, error.message, details);
  }
  if (isServiceError(error)) {
    // A failure relayed from another service keeps its code and details, so an
    // upstream NOT_FOUND stays NOT_FOUND for the original caller.
    return {
      code: error.code,
      details: error.details,
      metadata: error.metadata ?? new Metadata(),
    };
  }
  return withDetails(GrpcStatus.INTERNAL, `internal error (error id ${errorId})`, []);
}

function withDetails(
  code: GrpcStatus,
  message: string,
  details: { typeUrl: string; value: Buffer }[],
): GrpcErrorPayload {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(Status.encode({ code, message, details }).finish()));
  return { code, details: message, metadata };
}

export function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ServiceError>).code === 'number' &&
    (error as Partial<ServiceError>).metadata instanceof Metadata
  );
}

/** Reads the field violations back from a gRPC error (clients and tests). */
export function fieldViolationsOf(error: ServiceError): FieldViolation[] {
  const raw = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!(raw instanceof Buffer)) return [];
  const status = Status.decode(raw);
  return status.details
    .filter((d) => d.typeUrl.endsWith('/google.rpc.BadRequest'))
    .flatMap((d) =>
      BadRequest.decode(d.value).fieldViolations.map((v) => ({
        field: v.field,
        description: v.description,
      })),
    );
}

/** Reads the ErrorInfo reason back from a gRPC error. */
export function reasonOf(error: ServiceError): string | undefined {
  const raw = error.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!(raw instanceof Buffer)) return undefined;
  const info = Status.decode(raw).details.find((d) => d.typeUrl.endsWith('/google.rpc.ErrorInfo'));
  return info ? ErrorInfo.decode(info.value).reason : undefined;
}
