import { type DescField, type DescMessage, fromBinary, type Registry, toJson } from '@bufbuild/protobuf';
import { compileJsonWriter } from './json-writer.ts';

export interface ResponseMarshaller {
  /** The upstream's protobuf bytes as the JSON text sent to the client. */
  toJsonText(bytes: Uint8Array): string;
  /** The same, as a value (a WebSocket answer frame embeds it). */
  toJsonValue(bytes: Uint8Array): unknown;
}

/**
 * Canonical proto3 JSON out: lowerCamelCase names, 64-bit integers as
 * strings, enums by name, well-known types in their JSON forms. Fields at
 * their default value are emitted too (as grpc-gateway v2 does by default),
 * so clients always see every field of the contract; message and oneof
 * fields that are not set stay absent.
 *
 * The text comes straight from the bytes (json-writer.ts), with the
 * library's `fromBinary` → `toJson` → `JSON.stringify` wherever that writer
 * gives up (it then also decides what is refused); stream frames splice the
 * text into their framing. The value, for a caller that embeds it in a
 * larger object (a WebSocket answer frame), takes the library's path.
 */
export function createResponseMarshaller(
  output: DescMessage,
  responseBody: DescField | undefined,
  registry: Registry,
): ResponseMarshaller {
  const options = { alwaysEmitImplicit: true, registry };
  const toValue = (bytes: Uint8Array): unknown => {
    const json = toJson(output, fromBinary(output, bytes), options);
    if (responseBody === undefined) return json;
    const picked = (json as Record<string, unknown>)[responseBody.jsonName];
    return picked === undefined ? null : picked;
  };
  const write = compileJsonWriter(output, registry, responseBody);
  return {
    toJsonText: (bytes) => write(bytes) ?? JSON.stringify(toValue(bytes)),
    toJsonValue: toValue,
  };
}
