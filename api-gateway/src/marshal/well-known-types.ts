/**
 * Well-known message types whose proto3 JSON form is a single string, number
 * or bool, so that one query-string value can set them (and the OpenAPI
 * document offers them as query parameters). Every other message type is an
 * object in JSON: its fields are set one by one (`a.b=1`), or not at all from
 * the query.
 */
export const SCALAR_JSON_WKT: ReadonlySet<string> = new Set([
  'google.protobuf.Timestamp',
  'google.protobuf.Duration',
  'google.protobuf.FieldMask',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.FloatValue',
  'google.protobuf.DoubleValue',
  'google.protobuf.BoolValue',
]);
