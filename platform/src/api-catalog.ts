import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  createFileRegistry,
  type DescMethod,
  type DescService,
  type FileRegistry,
  fromBinary,
  getOption,
  hasOption,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { Access, type CacheScope, RateLimitClass } from '@messenger/gen/messenger/options/v1/options';

/**
 * What the contracts say about one RPC, read once at start-up from the
 * FileDescriptorSet that `make gen` writes. The proto file stays the single
 * source of truth: access, caching, rate limits, retry safety and HTTP routes
 * are never restated in code.
 */
export interface MethodInfo {
  /** `/messenger.user.v1.UserService/GetUser`, the gRPC path. */
  readonly path: string;
  readonly service: string;
  readonly name: string;
  readonly descriptor: DescMethod;
  /** Whether the contract declares a `messenger.options.v1.policy` at all. */
  readonly policyDeclared: boolean;
  /** Safe to retry: declared NO_SIDE_EFFECTS or IDEMPOTENT. */
  readonly idempotent: boolean;
  readonly access: Access;
  /** With ACCESS_INTERNAL: the only services whose tokens may call it (`callers` in the policy). */
  readonly callers: readonly string[];
  readonly cache:
    | {
        readonly ttlSeconds: number;
        readonly scope: CacheScope;
        readonly invalidatedBy: readonly string[];
      }
    | undefined;
  readonly rateLimit: RateLimitClass;
}

export interface ApiCatalog {
  /** The FileDescriptorSet the catalog was read from (served by reflection). */
  readonly descriptorSet: Uint8Array;
  readonly registry: FileRegistry;
  readonly services: readonly DescService[];
  method(path: string): MethodInfo | undefined;
  methods(): Iterable<MethodInfo>;
}

const POLICY_EXTENSION = 'messenger.options.v1.policy';

interface PolicyValue {
  access: number;
  cache?: { ttlSeconds: number; scope: number; invalidatedBy: string[] };
  rateLimit: number;
  callers?: string[];
}

/** Builds the catalog of every service in a FileDescriptorSet (binary). */
export function createApiCatalog(descriptorSet: Uint8Array): ApiCatalog {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const policy = registry.getExtension(POLICY_EXTENSION);
  const services: DescService[] = [];
  const byPath = new Map<string, MethodInfo>();
  for (const file of registry.files) {
    for (const service of file.services) {
      services.push(service);
      for (const method of service.methods) {
        const declared =
          policy !== undefined && hasOption(method, policy)
            ? (getOption(method, policy) as unknown as PolicyValue)
            : undefined;
        const cache = declared?.cache;
        const info: MethodInfo = {
          path: `/${service.typeName}/${method.name}`,
          service: service.typeName,
          name: method.name,
          descriptor: method,
          policyDeclared: declared !== undefined,
          idempotent:
            method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
            method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT,
          // An undeclared access level is the safe one: a signed-in user.
          access: declared?.access ? (declared.access as Access) : Access.ACCESS_AUTHENTICATED,
          callers: [...(declared?.callers ?? [])],
          cache:
            cache && cache.ttlSeconds > 0
              ? {
                  ttlSeconds: cache.ttlSeconds,
                  scope: cache.scope as CacheScope,
                  invalidatedBy: [...cache.invalidatedBy],
                }
              : undefined,
          rateLimit: declared?.rateLimit
            ? (declared.rateLimit as RateLimitClass)
            : RateLimitClass.RATE_LIMIT_CLASS_DEFAULT,
        };
        byPath.set(info.path, info);
      }
    }
  }
  return {
    descriptorSet,
    registry,
    services,
    method: (path) => byPath.get(path),
    methods: () => byPath.values(),
  };
}

/** The path of the descriptor set generated from proto/ (gen/descriptor.binpb). */
export function messengerDescriptorPath(): string {
  return createRequire(import.meta.url).resolve('@messenger/gen/descriptor.binpb');
}

/** Loads the catalog of the messenger contracts. */
export async function loadMessengerCatalog(): Promise<ApiCatalog> {
  return createApiCatalog(await readFile(messengerDescriptorPath()));
}
