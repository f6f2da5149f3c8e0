import { deadlineOf, outgoingMetadata, responseHeaders } from './metadata.ts';

describe('outgoing metadata', () => {
  it('carries identity, tracing and allowed Grpc-Metadata-* headers only', () => {
    const md = outgoingMetadata(
      {
        authorization: 'Bearer t',
        'grpc-metadata-tenant': 'acme',
        'grpc-metadata-authorization': 'Bearer forged',
        'grpc-metadata-x-request-id': 'forged',
        'grpc-metadata-grpc-status': '0',
        'grpc-metadata-key-bin': 'AAAA',
        'grpc-metadata-bad key': 'x',
        'grpc-metadata-nonascii': 'caf\u00e9',
        'x-other': 'not forwarded',
      },
      'req-1',
      '10.0.0.1',
    );
    expect(md).toEqual({
      authorization: 'Bearer t',
      'x-request-id': 'req-1',
      'x-forwarded-for': '10.0.0.1',
      tenant: 'acme',
    });
  });

  it('sends the service response headers back as Grpc-Metadata-*, minus the transport’s', () => {
    expect(
      responseHeaders([
        ['trace', 'abc'],
        ['date', 'today'],
        ['grpc-encoding', 'gzip'],
        ['x-request-id', 'r'],
      ]),
    ).toEqual([['grpc-metadata-trace', 'abc']]);
  });
});

describe('deadline', () => {
  const policy = { defaultMs: 10_000, minMs: 20, maxMs: 60_000 };
  it.each([
    [undefined, 10_000],
    ['5S', 5000],
    ['250m', 250],
    ['2M', 60_000],
    ['1H', 60_000],
    ['1n', 20],
    ['3000u', 20],
    ['5', 10_000],
    ['-5S', 10_000],
    ['999999999S', 10_000],
  ])('Grpc-Timeout %s → %i ms', (header, ms) => {
    expect(deadlineOf(header, policy, 1000) - 1000).toBe(ms);
  });
});
