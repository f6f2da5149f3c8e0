/**
 * The closed set of failure kinds a use case may report. Each maps to exactly
 * one gRPC status code (and, at the gateway, one HTTP status).
 */
export const ErrorKind = {
  InvalidArgument: 'invalid_argument',
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  PermissionDenied: 'permission_denied',
  Unauthenticated: 'unauthenticated',
  FailedPrecondition: 'failed_precondition',
  ResourceExhausted: 'resource_exhausted',
  Aborted: 'aborted',
  Unavailable: 'unavailable',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

export interface FieldViolation {
  /** The request field at fault, in proto field path form (`user.nickname`). */
  field: string;
  description: string;
}

/**
 * A failure the caller can act on. Domain code throws these (or subclasses
 * with their own reasons); the message is shown to the caller, so it must
 * never carry internal detail.
 */
export class DomainError extends Error {
  readonly kind: ErrorKind;
  /** A stable, machine-readable reason in UPPER_SNAKE_CASE, e.g. `NICKNAME_TAKEN`. */
  readonly reason: string;
  readonly violations: readonly FieldViolation[];

  constructor(kind: ErrorKind, reason: string, message: string, violations: readonly FieldViolation[] = []) {
    super(message);
    this.name = 'DomainError';
    this.kind = kind;
    this.reason = reason;
    this.violations = violations;
  }

  static invalid(violations: readonly FieldViolation[]): DomainError {
    const message = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
    return new DomainError(ErrorKind.InvalidArgument, 'INVALID_ARGUMENT', message, violations);
  }
}

/** A violation of `field` when `problem` (a `…Problem` check's answer) is set. */
export function violation(field: string, problem: string | undefined): FieldViolation | undefined {
  return problem === undefined ? undefined : { field, description: problem };
}

/** Throws one INVALID_ARGUMENT naming every violation found, or returns when there is none. */
export function throwIfInvalid(candidates: readonly (FieldViolation | undefined)[]): void {
  const violations = candidates.filter((v): v is FieldViolation => v !== undefined);
  if (violations.length > 0) throw DomainError.invalid(violations);
}
