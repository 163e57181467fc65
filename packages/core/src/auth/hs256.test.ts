import { describe, expect, it } from 'vitest';
import { createHs256 } from './hs256.ts';

const hex = (tag: Uint8Array) => Buffer.from(tag).toString('hex');

// RFC 4231's HMAC-SHA256 test vectors: a short key, a text key, and a key longer than
// SHA-256's 64-byte block (hashed first).
describe('createHs256', () => {
  it('gives the RFC 4231 tags, call after call with the same key', () => {
    const short = createHs256(Buffer.alloc(20, 0x0b));
    expect(hex(short('Hi There'))).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    const jefe = createHs256(new TextEncoder().encode('Jefe'));
    expect(hex(jefe('what do ya want for nothing?'))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    const long = createHs256(Buffer.alloc(131, 0xaa));
    const input = 'Test Using Larger Than Block-Size Key - Hash Key First';
    expect(hex(long(input))).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
    expect(hex(long(input))).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });
});
