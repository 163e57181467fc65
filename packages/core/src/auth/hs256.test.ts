import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHs256 } from './hs256.ts';

const nodeTag = (secret: Uint8Array, input: string) =>
  new Uint8Array(createHmac('sha256', secret).update(input, 'utf8').digest());

describe('createHs256', () => {
  it('gives the RFC 4231 test case 2 tag', () => {
    const tag = createHs256(new TextEncoder().encode('Jefe'))('what do ya want for nothing?');
    expect(Buffer.from(tag).toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('agrees with node:crypto for any key and input, call after call', () => {
    let tried = 0;
    fc.assert(
      fc.property(
        // Keys shorter and longer than SHA-256's 64-byte block (long keys are hashed first).
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        // Inputs past the reused buffer's first size, and non-ASCII text.
        fc.array(fc.oneof(fc.string({ maxLength: 3000 }), fc.string({ unit: 'grapheme', maxLength: 50 })), {
          minLength: 1,
          maxLength: 5,
        }),
        (secret, inputs) => {
          const tag = createHs256(secret);
          for (const input of inputs) {
            tried++;
            expect(tag(input)).toEqual(nodeTag(secret, input));
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(tried).toBeGreaterThanOrEqual(300);
  });
});
