// TLS on the gRPC hops between processes: what a server serves with and what
// a client verifies and presents, as grpc-js credentials. Which files hold
// the certificates is configuration (runtime/grpc-tls.ts); this module only
// turns their contents into credentials.
import { type ChannelCredentials, type ChannelOptions, credentials, ServerCredentials } from '@grpc/grpc-js';

/** The PEM contents a process uses for TLS on its gRPC hops. */
export interface GrpcTls {
  /** The CA(s) that sign the peers' certificates: servers' for a client, clients' for a server with `requireClientCert`. */
  readonly ca: Buffer;
  /** This process's certificate chain and key: served by its server, presented by its clients (mutual TLS). */
  readonly identity?: { readonly cert: Buffer; readonly key: Buffer };
  /** A server refuses a client that presents no certificate signed by `ca`. */
  readonly requireClientCert: boolean;
  /** The name a client expects in a server's certificate instead of the host of the address it dials. */
  readonly serverName?: string;
}

/** TLS with this process's certificate when `tls` is set (it must then have one), plaintext otherwise. */
export function grpcServerCredentials(tls: GrpcTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  if (!tls.identity) throw new Error('a gRPC server with TLS needs a certificate and key');
  return ServerCredentials.createSsl(
    tls.ca,
    [{ cert_chain: tls.identity.cert, private_key: tls.identity.key }],
    tls.requireClientCert,
  );
}

/** A client's credentials: verifies servers against the CA and presents this process's certificate, if any. */
export function grpcChannelCredentials(tls: GrpcTls | undefined): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(tls.ca, tls.identity?.key ?? null, tls.identity?.cert ?? null);
}

/** Channel options that go with `grpcChannelCredentials`: the expected server name, when overridden. */
export function grpcTlsChannelOptions(tls: GrpcTls | undefined): ChannelOptions {
  return tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {};
}
