import { Webhook } from 'standardwebhooks';
import { WebhookSignatureInvalidError } from '../common/errors';
import { WebhookVerifier } from './webhook-verifier';

// The Standard Webhooks specification's published test vector (its reference libraries' tests).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const OTHER_SECRET = 'whsec_QWxzb0FTZWNyZXRCdXROb3RUaGVPbmVXZVVzZQ==';

const headers = (
  overrides: Partial<Record<'id' | 'timestamp' | 'signature', string>> = {},
) => ({
  'webhook-id': overrides.id ?? VECTOR.id,
  'webhook-timestamp': overrides.timestamp ?? String(VECTOR.timestamp),
  'webhook-signature': overrides.signature ?? VECTOR.signature,
});

/** Why a delivery was refused (the log's reason; the caller gets one generic message). */
function refusal(verify: () => unknown): string {
  try {
    verify();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookSignatureInvalidError);
    const refused = error as WebhookSignatureInvalidError;
    expect(refused.message).toBe('The webhook signature does not verify');
    return refused.reason;
  }
  throw new Error('the delivery verified');
}

describe('WebhookVerifier (Standard Webhooks)', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: VECTOR.timestamp * 1000 });
  });
  afterEach(() => jest.useRealTimers());

  const verifier = new WebhookVerifier([VECTOR.secret]);
  const body = Buffer.from(VECTOR.payload);

  it('verifies the specification test vector, and signs it the same way as the package', () => {
    expect(verifier.verify(body, headers())).toBe(VECTOR.id);
    expect(
      new Webhook(VECTOR.secret).sign(
        VECTOR.id,
        new Date(VECTOR.timestamp * 1000),
        VECTOR.payload,
      ),
    ).toBe(VECTOR.signature);
  });

  it('finds a v1 signature among several (another version, a rotated-out key)', () => {
    const signature = `v1a,bm90IGEgc2lnbmF0dXJl v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= ${VECTOR.signature}`;
    expect(verifier.verify(body, headers({ signature }))).toBe(VECTOR.id);
  });

  it('accepts any configured secret (rotation), and refuses when none signed it', () => {
    expect(
      new WebhookVerifier([OTHER_SECRET, VECTOR.secret]).verify(
        body,
        headers(),
      ),
    ).toBe(VECTOR.id);
    expect(() =>
      new WebhookVerifier([OTHER_SECRET]).verify(body, headers()),
    ).toThrow(WebhookSignatureInvalidError);
  });

  it('refuses a body changed by one byte', () => {
    const changed = Buffer.from(VECTOR.payload.replace('4}', '5}'));
    expect(refusal(() => verifier.verify(changed, headers()))).toMatch(
      /no matching signature/,
    );
  });

  it('refuses an unknown signature version', () => {
    const signature = VECTOR.signature.replace('v1,', 'v2,');
    expect(() => verifier.verify(body, headers({ signature }))).toThrow(
      WebhookSignatureInvalidError,
    );
  });

  it('allows 5 minutes of clock difference either way, and no more', () => {
    for (const offset of [-300, 300]) {
      const timestamp = VECTOR.timestamp + offset;
      const signature = new Webhook(VECTOR.secret).sign(
        VECTOR.id,
        new Date(timestamp * 1000),
        VECTOR.payload,
      );
      expect(
        verifier.verify(
          body,
          headers({ timestamp: String(timestamp), signature }),
        ),
      ).toBe(VECTOR.id);
    }
    for (const [offset, problem] of [
      [-301, /too old/],
      [301, /too new/],
    ] as const) {
      const timestamp = VECTOR.timestamp + offset;
      const signature = new Webhook(VECTOR.secret).sign(
        VECTOR.id,
        new Date(timestamp * 1000),
        VECTOR.payload,
      );
      expect(
        refusal(() =>
          verifier.verify(
            body,
            headers({ timestamp: String(timestamp), signature }),
          ),
        ),
      ).toMatch(problem);
    }
  });

  it('names missing headers, and refuses an id with a dot (the signed content is id.timestamp.body)', () => {
    expect(
      refusal(() => verifier.verify(body, { 'webhook-id': VECTOR.id })),
    ).toMatch(/missing webhook-timestamp, webhook-signature/);
    expect(
      refusal(() => verifier.verify(body, headers({ id: 'msg.1' }))),
    ).toMatch(/malformed webhook-id/);
    expect(
      refusal(() => verifier.verify(body, headers({ id: 'x'.repeat(256) }))),
    ).toMatch(/malformed webhook-id/);
  });

  it('reads the timestamp as 1-10 digits only (the package alone would parseInt "<ts>abc" and "0<ts>.9")', () => {
    for (const timestamp of [
      `${VECTOR.timestamp}abc`,
      `0${VECTOR.timestamp}.9`,
      ` ${VECTOR.timestamp}`,
      `+${VECTOR.timestamp}`,
      `${VECTOR.timestamp}`.padStart(11, '0'),
    ])
      expect(refusal(() => verifier.verify(body, headers({ timestamp })))).toBe(
        'malformed webhook-timestamp',
      );
  });

  it('refuses a signature header too long to be a few signatures', () => {
    const signature = Array(9).fill(VECTOR.signature).join(' ');
    expect(refusal(() => verifier.verify(body, headers({ signature })))).toBe(
      'malformed webhook-signature',
    );
  });
});
