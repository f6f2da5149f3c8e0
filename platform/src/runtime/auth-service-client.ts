// What every other service needs from the auth service in a cluster: its
// public keys and a service token of its own. The trust infrastructure is the
// one service the platform knows about.
import { randomUUID } from 'node:crypto';
import {
  AuthServiceClient,
  type GetJwksResponse,
  type IssueServiceTokenResponse,
} from '@messenger/gen/messenger/auth/v1/auth';
import { createRemoteJwksSource, type JwksSource } from '../auth/jwks-source.ts';
import { cachedServiceTokenSource, type ServiceTokenSource } from '../auth/service-token-source.ts';
import { type ClientPool, outgoingMetadata } from '../grpc/client-pool.ts';

/** The verification keys from GetJwks (a public method). */
export function authServiceJwksSource(pool: ClientPool, authAddress: string): JwksSource {
  return createRemoteJwksSource(async () => {
    const client = pool.get(AuthServiceClient, authAddress);
    const response = await new Promise<GetJwksResponse>((resolve, reject) => {
      client.getJwks({}, outgoingMetadata(randomUUID(), undefined), (error, res) =>
        error ? reject(error) : resolve(res),
      );
    });
    return response.keys.map(({ kty, crv, x, y, kid, alg, use }) => ({ kty, crv, x, y, kid, alg, use }));
  });
}

/** This service's token from IssueServiceToken (authenticated by the shared secret), renewed before expiry. */
export function authServiceTokenSource(
  pool: ClientPool,
  authAddress: string,
  serviceName: string,
  serviceSecret: string,
): ServiceTokenSource {
  return cachedServiceTokenSource(async () => {
    const client = pool.get(AuthServiceClient, authAddress);
    const response = await new Promise<IssueServiceTokenResponse>((resolve, reject) => {
      client.issueServiceToken(
        { serviceName, serviceSecret },
        outgoingMetadata(randomUUID(), undefined),
        (error, res) => (error ? reject(error) : resolve(res)),
      );
    });
    if (!response.expireTime) throw new Error('IssueServiceToken returned no expire_time');
    return { token: response.serviceToken, expiresAt: Math.floor(response.expireTime.getTime() / 1000) };
  });
}
