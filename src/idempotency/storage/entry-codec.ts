import {
  createCipheriv,
  createDecipheriv,
  hash,
  randomBytes,
} from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import type {
  CompletedEntry,
  IdempotencyEntry,
  InFlightEntry,
} from './idempotency-storage.interface';

/**
 * Format 1, JSON text: every lock (so that the Lua scripts can read it), and responses when they
 * are not compressed.
 */
export const JSON_FORMAT_VERSION = 1;
/** Format 2, compressed responses: a version byte, then a zlib stream. */
export const RESPONSE_FORMAT_VERSION = 2;
/**
 * Format 3, an encrypted response: the byte 0x03, the 4-byte id of the key (the start of its
 * sha256), a 12-byte IV, the AES-256-GCM ciphertext of the format 1 or 2 bytes, and the 16-byte tag.
 * The storage key is the associated data: an entry copied under another key does not decrypt.
 */
export const ENCRYPTED_FORMAT_VERSION = 3;

/** What a typical stored response looks like: its text becomes the compression dictionary. */
export interface SampleResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface EntryCodecOptions {
  /**
   * Write responses compressed (format 2, the default) or as JSON text (format 1): about 15% of a
   * create's CPU and 8% of a replay's against 44% more Redis memory per entry (docs/design.md).
   * Reading does not depend on it: both formats are always read, so it can be switched by a
   * rolling deploy in either direction.
   */
  compressResponses?: boolean;
  /**
   * AES-256 keys (32 bytes each): the first encrypts every stored response, all of them decrypt,
   * so a key is rotated in by putting it first and out by dropping it once its entries expired.
   * An entry whose key was dropped is unreadable, and then treated as absent. None: plain.
   */
  encryptionKeys?: Uint8Array[];
}

export class UnreadableEntryError extends Error {
  constructor(detail: string) {
    super(`stored idempotency entry is unreadable: ${detail}`);
    this.name = 'UnreadableEntryError';
  }
}

const JSON_OPEN_BRACE = 0x7b;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface EncryptionKey {
  id: Buffer;
  secret: Uint8Array;
}

function toEncryptionKey(secret: Uint8Array): EncryptionKey {
  if (secret.length !== 32)
    throw new Error(
      `an idempotency encryption key must be 32 bytes (AES-256), not ${secret.length}`,
    );
  return {
    id: hash('sha256', secret, 'buffer').subarray(0, KEY_ID_BYTES),
    secret,
  };
}
/**
 * A 2 KiB window and a small hash table: stored responses are a few hundred bytes, and zlib's
 * defaults (32 KiB window, memLevel 8) allocate about 256 KiB per call and double its time. The
 * window is part of the format: inflating with the same 2 KiB window (instead of 32 KiB) takes a
 * quarter less time on the replay path (14 instead of 19 µs for a 1-item order).
 */
const WINDOW_BITS = 11;
/**
 * Output buffers sized for entries of a few hundred bytes: zlib's default is a fresh 16 KiB buffer
 * per call, which in the app (a capped heap, thousands of calls a second) cost a create about 200 µs
 * of CPU in garbage collection; measured with the bench, 1,421-1,513 µs per create before, 1,226 after.
 * A larger entry just takes more than one chunk.
 */
const DEFLATE_OPTIONS = {
  level: 6,
  windowBits: WINDOW_BITS,
  memLevel: 2,
  chunkSize: 1024,
};
const INFLATE_CHUNK_SIZE = 4096;

/** A lock, or an uncompressed response: JSON text tagged with its format (1). */
function encodeJson(entry: IdempotencyEntry): string {
  return JSON.stringify({ v: JSON_FORMAT_VERSION, ...entry });
}

/**
 * How entries are written to and read from Redis. Every entry says its format, so that the two
 * builds of a rolling deploy never misread each other's entries: one this build cannot read throws
 * UnreadableEntryError (the claim degrades and the application's own constraint decides).
 *
 * - A lock is JSON text, `{"v":1,"state":"in_flight",...}`: the compare-and-set scripts decode it
 *   with Lua's cjson to check the owner's token.
 * - A response (format 2) is the byte 0x02 and then a zlib stream (RFC 1950, Node's own zlib) of
 *   the JSON array `[fingerprint, status, headers, body]`, compressed against a preset dictionary:
 *   the same array for a sample response. The field names and fixed text that every response
 *   repeats then cost a back-reference instead of their bytes (a 1-item order: 439 bytes as JSON,
 *   about 110 compressed; `npm run capacity`). zlib records the dictionary's checksum in the stream,
 *   so an entry compressed against another sample (a deploy that changed it) fails to inflate and
 *   is unreadable, never misread.
 * - A response in format 1 (JSON text, `{"v":1,"state":"completed",...}`, written by builds before
 *   format 2, or with `compressResponses: false`) is always read.
 *
 * @example const codec = new EntryCodec({ status: 201, headers: {}, body: { id: '…' } })
 */
export class EntryCodec {
  private readonly dictionary: Buffer;
  private readonly compressResponses: boolean;
  private readonly keys: EncryptionKey[];

  constructor(
    sample: SampleResponse = { status: 200, headers: {}, body: {} },
    options: EntryCodecOptions = {},
  ) {
    this.compressResponses = options.compressResponses ?? true;
    this.keys = (options.encryptionKeys ?? []).map(toEncryptionKey);
    this.dictionary = Buffer.from(
      JSON.stringify([
        '0'.repeat(64),
        sample.status,
        sample.headers,
        sample.body,
      ]),
    );
  }

  encodeLock(lock: InFlightEntry): string {
    return encodeJson(lock);
  }

  /** The response's bytes; encrypted with the first key, bound to `storageKey`, when keys are set. */
  encodeResponse(entry: CompletedEntry, storageKey = ''): Buffer {
    const plain = this.encodePlainResponse(entry);
    return this.keys.length > 0 ? this.encrypt(plain, storageKey) : plain;
  }

  private encrypt(plain: Buffer, storageKey: string): Buffer {
    const { id, secret } = this.keys[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', secret, iv);
    cipher.setAAD(Buffer.from(storageKey));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([
      Buffer.of(ENCRYPTED_FORMAT_VERSION),
      id,
      iv,
      sealed,
      cipher.getAuthTag(),
    ]);
  }

  private decrypt(bytes: Buffer, storageKey: string): Buffer {
    const id = bytes.subarray(1, 1 + KEY_ID_BYTES);
    const key = this.keys.find((candidate) => candidate.id.equals(id));
    if (!key)
      throw new UnreadableEntryError(
        `format ${ENCRYPTED_FORMAT_VERSION}: encrypted with a key no longer configured`,
      );
    const ivEnd = 1 + KEY_ID_BYTES + IV_BYTES;
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        key.secret,
        bytes.subarray(1 + KEY_ID_BYTES, ivEnd),
      );
      decipher.setAAD(Buffer.from(storageKey));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(ivEnd, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new UnreadableEntryError(
        `format ${ENCRYPTED_FORMAT_VERSION}: does not authenticate (another key's entry, or altered)`,
      );
    }
  }

  private encodePlainResponse(entry: CompletedEntry): Buffer {
    if (!this.compressResponses) return Buffer.from(encodeJson(entry));
    const text = JSON.stringify([
      entry.fingerprint,
      entry.status,
      entry.headers,
      entry.body,
    ]);
    const stream = deflateSync(text, {
      ...DEFLATE_OPTIONS,
      dictionary: this.dictionary,
    });
    return Buffer.concat([Buffer.of(RESPONSE_FORMAT_VERSION), stream]);
  }

  /** `storageKey`: where it was read from, which an encrypted entry must have been written for. */
  decode(stored: Buffer | string, storageKey = ''): IdempotencyEntry {
    const bytes = typeof stored === 'string' ? Buffer.from(stored) : stored;
    if (bytes[0] === ENCRYPTED_FORMAT_VERSION)
      return this.decodePlain(this.decrypt(bytes, storageKey));
    return this.decodePlain(bytes);
  }

  private decodePlain(bytes: Buffer): IdempotencyEntry {
    if (bytes[0] === JSON_OPEN_BRACE) return this.decodeJson(bytes);
    if (bytes[0] === RESPONSE_FORMAT_VERSION) return this.decodeResponse(bytes);
    throw new UnreadableEntryError(`format byte ${bytes[0]}`);
  }

  private decodeResponse(bytes: Buffer): CompletedEntry {
    let text: string;
    try {
      text = inflateSync(bytes.subarray(1), {
        windowBits: WINDOW_BITS,
        chunkSize: INFLATE_CHUNK_SIZE,
        dictionary: this.dictionary,
      }).toString();
    } catch (error) {
      throw new UnreadableEntryError(
        `format ${RESPONSE_FORMAT_VERSION}: ${(error as Error).message}`,
      );
    }
    const [fingerprint, status, headers, body] = JSON.parse(text) as [
      string,
      number,
      Record<string, string>,
      unknown,
    ];
    return { state: 'completed', fingerprint, status, headers, body };
  }

  private decodeJson(bytes: Buffer): IdempotencyEntry {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString());
    } catch {
      throw new UnreadableEntryError('not JSON');
    }
    const { v, ...entry } = (parsed ?? {}) as { v?: unknown };
    if (v !== JSON_FORMAT_VERSION)
      throw new UnreadableEntryError(`format version ${String(v)}`);
    return entry as IdempotencyEntry;
  }
}
