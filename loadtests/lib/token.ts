// Mints bearer tokens the API accepts (HS256, `sub` = user id, optional `role: "admin"`, `exp`).
// The service's own signToken goes through WebCrypto and jose; a load run needs hundreds of
// thousands of distinct tokens up front, so this builds the same JWT with one HMAC each.
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

/** `count` tokens for consecutive user ids starting at `firstUserId`. */
export function mintTokens(secret: string, firstUserId: number, count: number): string[] {
  const tokens = new Array<string>(count);
  for (let i = 0; i < count; i++) tokens[i] = mintToken(secret, firstUserId + i);
  return tokens;
}
