// The gRPC TLS settings as an operator writes them (files named by the
// environment, as Kubernetes mounts a Secret) and the certificates they
// become; a half or unreadable configuration stops start-up.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigOf, type ConfigSpec, setting } from '../config.ts';
import type { GrpcTls } from '../grpc/tls.ts';

export const grpcTlsSettings = {
  grpcTlsCaFile: setting.optionalString('GRPC_TLS_CA_FILE', {
    description:
      'PEM file of the CA(s) that sign the services’ certificates: set, every gRPC hop of this process is TLS — its clients verify servers against it, and (GRPC_TLS_REQUIRE_CLIENT_CERT) its server verifies clients. Unset: plaintext gRPC (start-up warns). Read at start-up; embedded mode does not use it.',
  }),
  grpcTlsCertFile: setting.optionalString('GRPC_TLS_CERT_FILE', {
    description:
      'PEM certificate (chain) this process serves gRPC with and presents to the services it calls, with GRPC_TLS_KEY_FILE; needs GRPC_TLS_CA_FILE. Required with TLS for the four services; optional for the gateway (mutual TLS only). Its SANs must hold every name it is dialled by (the service DNS names, or GRPC_TLS_SERVER_NAME).',
  }),
  grpcTlsKeyFile: setting.optionalString('GRPC_TLS_KEY_FILE', {
    description: 'PEM private key of GRPC_TLS_CERT_FILE.',
  }),
  grpcTlsRequireClientCert: setting.bool('GRPC_TLS_REQUIRE_CLIENT_CERT', false, {
    description:
      'Mutual TLS: servers refuse clients without a certificate signed by GRPC_TLS_CA_FILE, so every process (the gateway too) needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE.',
  }),
  grpcTlsServerName: setting.optionalString('GRPC_TLS_SERVER_NAME', {
    description:
      'The name clients expect in every server’s certificate instead of the host of the address they dial (one shared certificate for all services); unset: the host, a DNS name or an IP address.',
  }),
} satisfies ConfigSpec;

export type GrpcTlsSettings = ConfigOf<typeof grpcTlsSettings>;

/**
 * The certificates these settings name, or undefined for plaintext; throws a
 * ConfigError naming each setting that is missing or cannot be read. A
 * process that `servesGrpc` needs its own certificate with TLS on; the
 * gateway, a client only, needs one for mutual TLS.
 */
export function loadGrpcTls(settings: GrpcTlsSettings, servesGrpc: boolean): GrpcTls | undefined {
  const { grpcTlsCaFile: caFile, grpcTlsCertFile: certFile, grpcTlsKeyFile: keyFile } = settings;
  const requireClientCert = settings.grpcTlsRequireClientCert;
  const serverName = settings.grpcTlsServerName;
  if (caFile === '' && certFile === '' && keyFile === '' && !requireClientCert && serverName === '') return undefined;

  const problems: string[] = [];
  const read = (env: string, path: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.push(`${env}: cannot read ${JSON.stringify(path)} (${reason})`);
      return undefined;
    }
  };
  const others = [
    certFile !== '' && 'GRPC_TLS_CERT_FILE',
    keyFile !== '' && 'GRPC_TLS_KEY_FILE',
    requireClientCert && 'GRPC_TLS_REQUIRE_CLIENT_CERT',
    serverName !== '' && 'GRPC_TLS_SERVER_NAME',
  ].filter((s) => s !== false);
  if (caFile === '') problems.push(`GRPC_TLS_CA_FILE: is required with ${others.join(', ')} (gRPC TLS)`);
  if (certFile === '' && keyFile !== '') problems.push('GRPC_TLS_CERT_FILE: is required with GRPC_TLS_KEY_FILE');
  if (keyFile === '' && certFile !== '') problems.push('GRPC_TLS_KEY_FILE: is required with GRPC_TLS_CERT_FILE');
  if (certFile === '' && keyFile === '') {
    if (servesGrpc) problems.push('GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: are required for a gRPC server with TLS');
    else if (requireClientCert) {
      problems.push('GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: are required with GRPC_TLS_REQUIRE_CLIENT_CERT=true');
    }
  }
  const ca = caFile === '' ? undefined : read('GRPC_TLS_CA_FILE', caFile);
  const cert = certFile === '' ? undefined : read('GRPC_TLS_CERT_FILE', certFile);
  const key = keyFile === '' ? undefined : read('GRPC_TLS_KEY_FILE', keyFile);
  // Parsed here so that a wrong file is named now, not by a TLS handshake failing later.
  if (ca) parse('GRPC_TLS_CA_FILE', () => new X509Certificate(ca), 'is not a PEM certificate', problems);
  const ownCert =
    cert && parse('GRPC_TLS_CERT_FILE', () => new X509Certificate(cert), 'is not a PEM certificate', problems);
  const ownKey = key && parse('GRPC_TLS_KEY_FILE', () => createPrivateKey(key), 'is not a PEM private key', problems);
  if (ownCert && ownKey && !ownCert.checkPrivateKey(ownKey)) {
    problems.push('GRPC_TLS_KEY_FILE: is not the key of GRPC_TLS_CERT_FILE');
  }
  if (problems.length > 0 || ca === undefined) throw new ConfigError(problems);
  return {
    ca,
    ...(cert && key ? { identity: { cert, key } } : {}),
    requireClientCert,
    ...(serverName === '' ? {} : { serverName }),
  };
}

function parse<T>(env: string, parser: () => T, failure: string, problems: string[]): T | undefined {
  try {
    return parser();
  } catch {
    problems.push(`${env}: ${failure}`);
    return undefined;
  }
}
