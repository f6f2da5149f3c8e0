import { BadRequest, DebugInfo, ErrorInfo } from '@messenger/gen/google/rpc/error_details';
import { Status } from '@messenger/gen/google/rpc/status';
import { Code, codeName, codeOfHttpStatus, decodeStatusDetails, genericMessage, httpStatusOf } from './status.ts';

describe('status mapping', () => {
  it("uses grpc-gateway's code → HTTP table", () => {
    const table = Object.fromEntries(Object.entries(Code).map(([name, code]) => [name, httpStatusOf(code)]));
    expect(table).toEqual({
      OK: 200,
      CANCELLED: 499,
      UNKNOWN: 500,
      INVALID_ARGUMENT: 400,
      DEADLINE_EXCEEDED: 504,
      NOT_FOUND: 404,
      ALREADY_EXISTS: 409,
      PERMISSION_DENIED: 403,
      RESOURCE_EXHAUSTED: 429,
      FAILED_PRECONDITION: 400,
      ABORTED: 409,
      OUT_OF_RANGE: 400,
      UNIMPLEMENTED: 501,
      INTERNAL: 500,
      UNAVAILABLE: 503,
      DATA_LOSS: 500,
      UNAUTHENTICATED: 401,
    });
    expect(httpStatusOf(99)).toBe(500);
  });

  it('names every code, and codes outside the set by number', () => {
    for (const [name, code] of Object.entries(Code)) expect(codeName(code)).toBe(name);
    expect(codeName(17)).toBe('CODE_17');
    expect(codeName(-1)).toBe('CODE_-1');
  });

  it('gives Fastify statuses a code', () => {
    expect([400, 404, 413, 415, 429, 431].map(codeOfHttpStatus)).toEqual([3, 5, 3, 3, 8, 3]);
  });

  it('renders details as JSON Any values, without DebugInfo or undecodable ones', () => {
    const bin = Status.encode({
      code: 3,
      message: 'bad',
      details: [
        {
          typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
          value: Buffer.from(ErrorInfo.encode({ reason: 'R', domain: 'd', metadata: { k: 'v' } }).finish()),
        },
        {
          typeUrl: 'type.googleapis.com/google.rpc.DebugInfo',
          value: Buffer.from(DebugInfo.encode({ stackEntries: ['x'], detail: 'y' }).finish()),
        },
        {
          typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
          value: Buffer.from(
            BadRequest.encode({
              fieldViolations: [{ field: 'f', description: 'd', reason: '', localizedMessage: undefined }],
            }).finish(),
          ),
        },
        { typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from([0xff, 0xff, 0xff]) },
      ],
    }).finish();
    expect(decodeStatusDetails(bin)).toEqual([
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'R', domain: 'd', metadata: { k: 'v' } },
      { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'f', description: 'd' }] },
    ]);
    expect(decodeStatusDetails(undefined)).toEqual([]);
    expect(decodeStatusDetails(Buffer.from([0xff]))).toEqual([]);
  });

  it('says nothing of the cause on a 5xx but the error id', () => {
    expect(genericMessage(Code.INTERNAL, 'e1')).toBe('internal error (error id e1)');
    expect(genericMessage(Code.UNAVAILABLE, 'e2')).toBe('the service is unavailable; try again later (error id e2)');
  });
});
