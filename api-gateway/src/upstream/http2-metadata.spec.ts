import {
  codeOfHttpResponse,
  decodeGrpcMessage,
  isGrpcContentType,
  pushbackOf,
  requestHeaders,
  responsePairs,
  statusOf,
} from './http2-metadata.ts';

const pairs = (list: string[]) => {
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i] as string, list[i + 1] as string]);
  return out;
};

describe('request headers', () => {
  it('carry the gRPC request line, the timeout and legal metadata only', () => {
    const headers = requestHeaders('/a.B/C', 'svc:50051', '250m', {
      authorization: 'Bearer t',
      'trace-bin': 'AAH/',
      'Bad Key': 'x',
      tenant: 'caf\u00e9',
      te: 'gzip',
      connection: 'close',
      'content-type': 'text/plain',
      'grpc-timeout': '1S',
    });
    expect(Object.fromEntries(pairs(headers))).toEqual({
      ':method': 'POST',
      ':scheme': 'http',
      ':path': '/a.B/C',
      ':authority': 'svc:50051',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': expect.any(String),
      'grpc-timeout': '250m',
      authorization: 'Bearer t',
      'trace-bin': 'AAH/',
    });
  });
});

describe('response headers', () => {
  it('are the legal ASCII entries, first value of each, without pseudo, -bin and encoding headers', () => {
    expect(
      responsePairs({
        ':status': 200 as never,
        'content-type': 'application/grpc',
        'grpc-encoding': 'identity',
        'grpc-accept-encoding': 'gzip',
        'x-trace': 'abc',
        'set-cookie': ['a=1', 'b=2'],
        'x-bin': 'AQID',
        'x-latin': 'caf\u00e9',
      }),
    ).toEqual([
      ['content-type', 'application/grpc'],
      ['x-trace', 'abc'],
      ['set-cookie', 'a=1'],
    ]);
    expect(responsePairs({ ':status': 200 as never })).toEqual([]);
  });

  it.each([
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['application/grpc;charset=utf-8', true],
    ['application/grpcx', false],
    ['application/json', false],
    [undefined, false],
  ])('content-type %s is gRPC: %s', (value, ok) => {
    expect(isGrpcContentType(value)).toBe(ok);
  });
});

describe('status', () => {
  it('comes from grpc-status, grpc-message and grpc-status-details-bin', () => {
    expect(
      statusOf({ 'grpc-status': '5', 'grpc-message': 'not%20found', 'grpc-status-details-bin': 'CAU' }, 200),
    ).toEqual({ code: 5, message: 'not found', details: Buffer.from([8, 5]) });
    expect(statusOf({ 'grpc-status': '0', 'grpc-status-details-bin': 'CAU' }, 200)).toEqual({
      code: 0,
      message: '',
      details: undefined,
    });
    expect(statusOf({ 'grpc-status': 'x' }, 200).code).toBe(2);
  });

  it('falls back to the HTTP status, then UNKNOWN', () => {
    expect(statusOf({}, 503).code).toBe(14);
    expect(statusOf({}, 200).code).toBe(2);
    expect(statusOf({ 'grpc-status': '7' }, 503).code).toBe(7);
  });

  it.each([
    [400, 13],
    [401, 16],
    [403, 7],
    [404, 12],
    [429, 14],
    [502, 14],
    [503, 14],
    [504, 14],
    [500, 2],
    [302, 2],
  ])('HTTP %i → gRPC %i', (http, code) => {
    expect(codeOfHttpResponse(http)).toBe(code);
  });

  it('percent-decodes the message as UTF-8, keeping a malformed one as received', () => {
    expect(decodeGrpcMessage('plain')).toBe('plain');
    expect(decodeGrpcMessage('caf%C3%A9 %E2%9C%93 100%25')).toBe('café ✓ 100%');
    expect(decodeGrpcMessage('bad %E2%zz')).toBe('bad %E2%zz');
    expect(decodeGrpcMessage('half %C3')).toBe('half %C3');
  });

  it('reads retry pushback: a delay, or never (malformed or negative)', () => {
    expect(pushbackOf({ 'grpc-retry-pushback-ms': '120' })).toBe(120);
    expect(pushbackOf({ 'grpc-retry-pushback-ms': '-1' })).toBe(-1);
    expect(pushbackOf({})).toBeUndefined();
    expect(pushbackOf(undefined)).toBeUndefined();
  });
});
