import { createServiceSecrets, isOpaqueTokenShaped, newOpaqueToken, secretHash } from './secrets.ts';

describe('secrets', () => {
  it('makes 256-bit base64url tokens and hashes them', () => {
    const token = newOpaqueToken();
    expect(isOpaqueTokenShaped(token)).toBe(true);
    expect(token).not.toBe(newOpaqueToken());
    expect(isOpaqueTokenShaped(`${token}=`)).toBe(false);
    expect(secretHash(token)).toBe(secretHash(token));
    expect(secretHash(token)).not.toContain(token);
  });

  it('accepts exactly the configured secret of a known service', () => {
    const secrets = createServiceSecrets(new Map([['chat', 'a-long-chat-secret']]));
    expect(secrets.verify('chat', 'a-long-chat-secret')).toBe(true);
    expect(secrets.verify('chat', 'a-long-chat-secreT')).toBe(false);
    expect(secrets.verify('chat', 'a-long-chat-secret-and-more')).toBe(false);
    expect(secrets.verify('chat', '')).toBe(false);
    expect(secrets.verify('user', 'a-long-chat-secret')).toBe(false);
  });
});
