import { ScalarType } from '@bufbuild/protobuf';

export type Schema = Record<string, unknown>;

/**
 * Well-known types by their JSON form, not their message structure. Those
 * whose JSON is one scalar can also be query parameters (SCALAR_JSON_WKT).
 */
export const WKT_SCHEMAS: Readonly<Record<string, Schema>> = {
  'google.protobuf.Timestamp': { type: 'string', format: 'date-time', example: '2024-01-01T00:00:00Z' },
  'google.protobuf.Duration': {
    type: 'string',
    example: '1.5s',
    description: 'Seconds with up to 9 fractional digits, suffixed with "s".',
  },
  'google.protobuf.FieldMask': {
    type: 'string',
    example: 'about,avatarUrl',
    description: 'Comma-separated lowerCamelCase field paths.',
  },
  'google.protobuf.Struct': { type: 'object', additionalProperties: true },
  'google.protobuf.Value': {},
  'google.protobuf.ListValue': { type: 'array', items: {} },
  'google.protobuf.Empty': { type: 'object' },
  'google.protobuf.Any': {
    type: 'object',
    properties: { '@type': { type: 'string' } },
    additionalProperties: true,
  },
  'google.protobuf.StringValue': { type: 'string', nullable: true },
  'google.protobuf.BytesValue': { type: 'string', format: 'byte', nullable: true },
  'google.protobuf.BoolValue': { type: 'boolean', nullable: true },
  'google.protobuf.Int32Value': { type: 'integer', format: 'int32', nullable: true },
  'google.protobuf.UInt32Value': { type: 'integer', format: 'int64', minimum: 0, nullable: true },
  'google.protobuf.Int64Value': { type: 'string', format: 'int64', nullable: true },
  'google.protobuf.UInt64Value': { type: 'string', format: 'uint64', nullable: true },
  'google.protobuf.FloatValue': { type: 'number', format: 'float', nullable: true },
  'google.protobuf.DoubleValue': { type: 'number', format: 'double', nullable: true },
};

/** A scalar field's schema, in its proto3 JSON form (64-bit integers as strings). */
export function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: 'integer', format: 'int32' };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: 'integer', format: 'int64', minimum: 0 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: 'string', format: 'int64' };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: 'string', format: 'uint64' };
    case ScalarType.FLOAT:
      return { type: 'number', format: 'float' };
    case ScalarType.DOUBLE:
      return { type: 'number', format: 'double' };
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.BYTES:
      return { type: 'string', format: 'byte' };
    default:
      return { type: 'string' };
  }
}

/** `google.rpc.Status`: the body of every error response. */
export function statusSchema(): Schema {
  return {
    type: 'object',
    description:
      'The body of every error (`google.rpc.Status`). 5xx carry only a generic message with an error id to quote.',
    properties: {
      code: { type: 'integer', format: 'int32', description: 'The gRPC status code (`google.rpc.Code`).' },
      message: { type: 'string', description: 'What went wrong, for developers.' },
      details: {
        type: 'array',
        description:
          'Machine-readable details, e.g. `google.rpc.BadRequest` (field violations) and `google.rpc.ErrorInfo` (reason).',
        items: { type: 'object', properties: { '@type': { type: 'string' } }, additionalProperties: true },
      },
    },
    required: ['code', 'message', 'details'],
  };
}
