import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

/**
 * HMAC-SHA256 tags for one key, as JWS HS256 signs them (RFC 7515 §A.1).
 *
 * Why not node:crypto's createHmac: every call builds a native Hmac object (KeyObject checks,
 * an OpenSSL context set up and freed), which in the API's profile cost ~5 µs of the server's
 * ~75 µs per `coupon.issue` (each request of a flash crowd carries a token never seen before).
 * noble's HMAC hashes the key's two padded blocks once; each tag then copies that state into
 * one reused instance and hashes only the message, in plain JavaScript with no native call.
 * `hs256.test.ts` checks it against createHmac.
 */
export function createHs256(secret: Uint8Array): (signingInput: string) => Uint8Array {
  const keyed = hmac.create(sha256, secret);
  let scratch = keyed.clone();
  let bytes = Buffer.allocUnsafe(1024);
  const tag = new Uint8Array(32);
  // The tag is overwritten by the next call: callers compare it before signing anything else
  // (verification is synchronous, so no other call can run in between).
  return (signingInput) => {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    if (signingInput.length * 3 > bytes.length) bytes = Buffer.allocUnsafe(signingInput.length * 3);
    const length = bytes.write(signingInput, 0, 'utf8');
    scratch = keyed._cloneInto(scratch);
    scratch.update(bytes.subarray(0, length));
    scratch.digestInto(tag);
    return tag;
  };
}
