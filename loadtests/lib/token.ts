// Bearer tokens the API accepts (HS256, `sub` = user id, optional `role: "admin"`, `exp`), with
// one HMAC each: a run needs hundreds of thousands up front, and the service's signToken (WebCrypto, jose) is slower.
import { createHmac } from 'node:crypto';

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export function mintToken(
  secret: string,
  userId: number,
  options: { admin?: boolean; ttlSeconds?: number } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    sub: String(userId),
    iat: now,
    exp: now + (options.ttlSeconds ?? 3600),
  };
  if (options.admin) claims.role = 'admin';
  const body = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/**
 * `count` bearer header values (`Bearer <token>`) for consecutive user ids, packed in one buffer:
 * as separate strings they filled the load generator's old space, and its pauses count as
 * latency for every answer in flight.
 */
export type BearerPack = { readonly count: number; bearer(index: number): string };

export function mintBearerPack(secret: string, firstUserId: number, count: number): BearerPack {
  const offsets = new Uint32Array(count + 1);
  let buffer = Buffer.allocUnsafe(count * 160);
  let end = 0;
  for (let i = 0; i < count; i++) {
    const value = `Bearer ${mintToken(secret, firstUserId + i)}`;
    if (end + value.length > buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, end + value.length));
      buffer.copy(grown, 0, 0, end);
      buffer = grown;
    }
    end += buffer.write(value, end, 'latin1');
    offsets[i + 1] = end;
  }
  const packed = buffer;
  // A new flat string per call: young, and gone with the request that used it.
  return { count, bearer: (index) => packed.toString('latin1', offsets[index]!, offsets[index + 1]!) };
}
