import { createHash, randomBytes } from 'node:crypto';
import {
  EntryCodec,
  RESPONSE_FORMAT_VERSION,
  UnreadableEntryError,
} from './entry-codec';
import type { CompletedEntry } from './idempotency-storage.interface';

const sample = {
  status: 201,
  headers: { location: '/things/00000000-0000-4000-8000-000000000000' },
  body: {
    id: '00000000-0000-4000-8000-000000000000',
    name: 'sample',
    createdAt: '2026-01-01T00:00:00.000Z',
  },
};

const response: CompletedEntry = {
  state: 'completed',
  fingerprint: createHash('sha256').update('POST /things').digest('hex'),
  status: 201,
  headers: { location: '/things/3f2b8c1e-9a4d-4c6e-8f1a-2b3c4d5e6f70' },
  body: {
    id: '3f2b8c1e-9a4d-4c6e-8f1a-2b3c4d5e6f70',
    name: 'a thing',
    createdAt: '2026-11-29T20:30:00.000Z',
  },
};

describe('EntryCodec', () => {
  const codec = new EntryCodec(sample);

  it('reads back the response it wrote, tagged with its format byte', () => {
    const stored = codec.encodeResponse(response);
    expect(stored[0]).toBe(RESPONSE_FORMAT_VERSION);
    expect(codec.decode(stored)).toEqual(response);
  });

  it('stores a response in far fewer bytes than its JSON, the sample serving as dictionary', () => {
    const json = JSON.stringify({ v: 1, ...response });
    const stored = codec.encodeResponse(response);
    expect(stored.length).toBeLessThan(json.length / 2);
    // The same response without the dictionary's help is larger: the sample is what pays.
    expect(stored.length).toBeLessThan(
      new EntryCodec().encodeResponse(response).length,
    );
  });

  it('writes responses as JSON text (format 1) with compressResponses off; both codecs read both forms', () => {
    const plain = new EntryCodec(sample, { compressResponses: false });
    const stored = plain.encodeResponse(response);
    expect(JSON.parse(stored.toString())).toEqual({ v: 1, ...response });
    expect(plain.decode(stored)).toEqual(response);
    expect(codec.decode(stored)).toEqual(response);
    expect(plain.decode(codec.encodeResponse(response))).toEqual(response);
  });

  it('writes locks as JSON that the Lua scripts can decode, and reads them back', () => {
    const lock = {
      state: 'in_flight' as const,
      fingerprint: response.fingerprint,
      token: 't',
      renewUntil: 1,
    };
    const text = codec.encodeLock(lock);
    expect(JSON.parse(text)).toEqual({ v: 1, ...lock });
    expect(codec.decode(text)).toEqual(lock);
    expect(codec.decode(Buffer.from(text))).toEqual(lock);
  });

  it('still reads a response stored as JSON by an earlier build (format 1)', () => {
    const earlier = JSON.stringify({ v: 1, ...response });
    expect(codec.decode(Buffer.from(earlier))).toEqual(response);
  });

  it.each([
    [
      'compressed against another sample',
      () => new EntryCodec().encodeResponse(response),
    ],
    ['of an unknown format byte', () => Buffer.of(9, 1, 2, 3)],
    ['encrypted, to a codec without keys', () => Buffer.of(3, 1, 2, 3, 4)],
    ['cut short', () => codec.encodeResponse(response).subarray(0, 20)],
    [
      'JSON of another version',
      () => Buffer.from('{"v":99,"state":"completed"}'),
    ],
    ['JSON without a version', () => Buffer.from('{"state":"completed"}')],
    ['not JSON', () => Buffer.from('{"v":1,')],
    ['empty', () => Buffer.alloc(0)],
  ])(
    'refuses an entry %s as unreadable rather than misread it',
    (_, stored) => {
      expect(() => codec.decode(stored())).toThrow(UnreadableEntryError);
    },
  );
});

describe('EntryCodec with encryption keys (AES-256-GCM)', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const storageKey = 'idem:alice:abc';

  it('stores no response text in clear and reads it back with the storage key as associated data', () => {
    const codec = new EntryCodec(sample, { encryptionKeys: [oldKey] });
    for (const compressResponses of [true, false]) {
      const plain = new EntryCodec(sample, { compressResponses });
      const sealed = new EntryCodec(sample, {
        compressResponses,
        encryptionKeys: [oldKey],
      });
      const stored = sealed.encodeResponse(response, storageKey);
      expect(stored[0]).toBe(3);
      expect(stored.includes(Buffer.from('"status"'))).toBe(false);
      expect(sealed.decode(stored, storageKey)).toEqual(response);
      expect(() => plain.decode(stored, storageKey)).toThrow(
        UnreadableEntryError,
      );
    }
    // Two writes of one response differ (a fresh IV each time).
    expect(codec.encodeResponse(response, storageKey)).not.toEqual(
      codec.encodeResponse(response, storageKey),
    );
  });

  it('refuses an entry moved to another storage key, or altered', () => {
    const codec = new EntryCodec(sample, { encryptionKeys: [oldKey] });
    const stored = codec.encodeResponse(response, storageKey);
    expect(() => codec.decode(stored, 'idem:mallory:abc')).toThrow(
      /does not authenticate/,
    );
    const altered = Buffer.from(stored);
    altered[30] ^= 1;
    expect(() => codec.decode(altered, storageKey)).toThrow(
      UnreadableEntryError,
    );
  });

  it('rotates: an entry under the old key reads after the new one is put first; dropping the old key makes it unreadable', () => {
    const before = new EntryCodec(sample, { encryptionKeys: [oldKey] });
    const stored = before.encodeResponse(response, storageKey);
    const rotated = new EntryCodec(sample, {
      encryptionKeys: [newKey, oldKey],
    });
    expect(rotated.decode(stored, storageKey)).toEqual(response);
    expect(rotated.encodeResponse(response, storageKey)).not.toEqual(stored);
    const dropped = new EntryCodec(sample, { encryptionKeys: [newKey] });
    expect(() => dropped.decode(stored, storageKey)).toThrow(
      /key no longer configured/,
    );
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(
      () => new EntryCodec(sample, { encryptionKeys: [randomBytes(16)] }),
    ).toThrow(/32 bytes/);
  });
});
