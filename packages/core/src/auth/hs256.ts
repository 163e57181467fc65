import { createHmac, createSecretKey } from 'node:crypto';

/**
 * HMAC-SHA256 tags for one key, as JWS HS256 signs them (RFC 7515 §A.1). The key is imported
 * once as a KeyObject; each tag is one node:crypto Hmac (docs/adr/0007-hs256.md weighs this
 * against a pure-JavaScript HMAC from a pre-keyed state).
 */
export function createHs256(secret: Uint8Array): (signingInput: string) => Uint8Array {
  const key = createSecretKey(secret);
  return (signingInput) => createHmac('sha256', key).update(signingInput, 'utf8').digest();
}
