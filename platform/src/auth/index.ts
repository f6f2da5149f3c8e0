// Tokens: signing, verification, key rings and revocation; the Redis revocation
// list is `@messenger/platform/auth/redis`, so importing these loads no Redis client.
export { type JwtClaimCheck, JwtRejected, type VerifiedJwt, verifyEs256Jwt } from './es256-jwt.ts';
export {
  createJwksKeyResolver,
  createLocalJwksSource,
  createRemoteJwksSource,
  JWKS_UNAVAILABLE,
  type JwksKeyResolver,
  type JwksKeyResolverOptions,
  type JwksSource,
} from './jwks-source.ts';
export {
  InMemoryRevocationList,
  type InMemoryRevocationListOptions,
  type RevocationList,
} from './revocation.ts';
export { cachedServiceTokenSource, type ServiceTokenSource } from './service-token-source.ts';
export {
  generateSigningKeyRing,
  importSigningKeyRing,
  type PublicJwks,
  type SigningKey,
  type SigningKeyRing,
  type SigningKeyRingOptions,
} from './signing-key-ring.ts';
export {
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
  MAX_CLOCK_TOLERANCE_SECONDS,
  MAX_TOKEN_TTL_SECONDS,
  SERVICE_TOKEN_TYPE,
  type ServiceTokenClaims,
  TOKEN_ALGORITHM,
  TOKEN_VALIDITY_HORIZON_SECONDS,
  type TokenClaims,
} from './token-claims.ts';
export {
  type AccessTokenRequest,
  createTokenSigner,
  type ServiceTokenRequest,
  type SignedToken,
  type TokenSigner,
  type TokenSignerOptions,
} from './token-signer.ts';
export {
  AuthFailure,
  authFailure,
  bearerTokenOf,
  createTokenAuthenticator,
  REVOCATIONS_UNAVAILABLE,
  type ServiceCaller,
  type TokenAuthenticator,
  type TokenAuthenticatorOptions,
  type UserCaller,
} from './token-verifier.ts';
