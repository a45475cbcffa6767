import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { ThrottleByAddress } from '../throttling/throttle-by-address.decorator';
import { Public } from '../auth/public.decorator';
import { validationDetails } from '../common/app-validation.pipe';
import { parseAuthenticatedJson, RawBodyRequest } from '../common/body-parsers';
import { findBodyProblem } from '../common/body-shape';
import {
  ApiError,
  ErrorCode,
  InvalidJsonError,
  RETRY_AFTER_HEADER,
  ValidationFailedError,
  WebhookSignatureInvalidError,
  WebhooksDisabledError,
} from '../common/errors';
import { paymentsConfig } from '../config';
import {
  PAYMENT_EVENT_TYPES,
  PaymentDataDto,
  WebhookEnvelopeDto,
  WebhookReceiptDto,
} from './dto/payment-event.dto';
import { PAYMENT_WEBHOOK_PATH } from './payment-webhook.route';
import { PaymentsService, type VerifiedEvent } from './payments.service';
import {
  WEBHOOK_ID,
  WEBHOOK_SIGNATURE,
  WEBHOOK_SIGNATURE_MAX_LENGTH,
  WEBHOOK_TIMESTAMP,
  WebhookVerifier,
} from './webhook-verifier';
import { WEBHOOK_SIGNATURE_SCHEME } from '../openapi/security-schemes';

const SIGNATURE_SCHEME =
  'Standard Webhooks (https://www.standardwebhooks.com): `webhook-signature` holds space-separated ' +
  '`v1,<base64>` entries, each an HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<raw body>` keyed with ' +
  'the base64-decoded part of a `whsec_` secret (PAYMENT_WEBHOOK_SECRETS; any one verifying is enough).';

/**
 * The payment provider's webhook: authenticated by its signature alone (no bearer token), verified
 * over the raw bytes as received, before anything parses or validates them. Rate-limited per client
 * address with a budget of its own (WEBHOOK_THROTTLE_LIMIT), far above a user's: a provider flushing
 * its retry queue must not be turned away.
 */
@ApiTags('payments')
@Controller(PAYMENT_WEBHOOK_PATH.controller)
export class PaymentWebhooksController {
  private readonly verifier: WebhookVerifier;

  constructor(
    private readonly payments: PaymentsService,
    @Inject(paymentsConfig.KEY) config: ConfigType<typeof paymentsConfig>,
    private readonly logger: PinoLogger,
  ) {
    this.verifier = new WebhookVerifier(config.webhookSecrets);
    logger.setContext('PaymentWebhooks');
  }

  @Post(PAYMENT_WEBHOOK_PATH.route)
  @Public()
  @ThrottleByAddress('webhook')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Receive a payment event (exactly-once effect)',
    description:
      `${SIGNATURE_SCHEME} A timestamp more than 5 minutes from now either way is refused. Every verified, ` +
      'well-formed event is answered 200, including those that change nothing, so the provider stops retrying; ' +
      'the same webhook-id again changes nothing and answers `duplicate: true` with the first outcome.',
  })
  @ApiHeader({
    name: 'webhook-id',
    required: true,
    description: 'Unique per event (no `.`); redeliveries repeat it',
    schema: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: WEBHOOK_ID.source,
    },
  })
  @ApiHeader({
    name: 'webhook-timestamp',
    required: true,
    description: 'Unix seconds of this delivery attempt',
    schema: {
      type: 'string',
      minLength: 1,
      maxLength: 10,
      pattern: WEBHOOK_TIMESTAMP.source,
    },
  })
  @ApiHeader({
    name: 'webhook-signature',
    required: true,
    description: 'Space-separated `v1,<base64>` signatures (at most 8)',
    schema: {
      type: 'string',
      minLength: 1,
      maxLength: WEBHOOK_SIGNATURE_MAX_LENGTH,
      pattern: WEBHOOK_SIGNATURE.source,
    },
  })
  @ApiSecurity(WEBHOOK_SIGNATURE_SCHEME)
  @ApiError(
    429,
    [ErrorCode.TOO_MANY_REQUESTS],
    'Over the per-address webhook budget (WEBHOOK_THROTTLE_LIMIT per THROTTLE_TTL_MS); honour Retry-After.',
    RETRY_AFTER_HEADER,
  )
  @ApiBody({
    type: WebhookEnvelopeDto,
    examples: {
      paid: {
        summary: 'A payment for an order (sign it: see npm run webhook)',
        value: {
          type: 'payment.succeeded',
          timestamp: '2026-11-29T12:00:00Z',
          data: {
            paymentId: 'pay_7Hq2',
            orderId: '0b5b8e0c-6f1e-4c8a-9d3e-2f7a1c4b9e51',
            amountCents: 3998,
            currency: 'USD',
          },
        },
      },
    },
  })
  @ApiOkResponse({ type: WebhookReceiptDto })
  @ApiError(
    400,
    [ErrorCode.VALIDATION_FAILED, ErrorCode.INVALID_JSON],
    'The signature held but the body is not a well-formed event.',
  )
  @ApiError(
    401,
    [ErrorCode.WEBHOOK_SIGNATURE_INVALID],
    'Missing, malformed or wrong signature headers, an unknown signature version, or a timestamp more than 5 ' +
      'minutes off: no effect, and one answer for all of them (checked before the body is parsed, whatever its type).',
  )
  @ApiError(413, [ErrorCode.PAYLOAD_TOO_LARGE], 'Body over 64 KiB.')
  @ApiError(
    503,
    [ErrorCode.WEBHOOKS_DISABLED, ErrorCode.SERVICE_UNAVAILABLE],
    'PAYMENT_WEBHOOK_SECRETS is not set, or the database did not answer (the event had no effect; redeliver it).',
  )
  async receive(
    @Req() request: FastifyRequest & RawBodyRequest,
  ): Promise<WebhookReceiptDto> {
    if (!this.verifier.enabled) throw new WebhooksDisabledError();
    const body = request.rawBody ?? Buffer.alloc(0);
    const webhookId = this.verify(body, request.headers);
    const result = await this.payments.receive({
      webhookId,
      ...readEvent(parseVerifiedBody(body)),
    });
    return { received: true, ...result };
  }

  /** The same 401 for every refusal; which check failed goes to the log only. */
  private verify(body: Buffer, headers: FastifyRequest['headers']): string {
    try {
      return this.verifier.verify(body, headers);
    } catch (error) {
      if (error instanceof WebhookSignatureInvalidError)
        this.logger.warn({ reason: error.reason }, 'payment webhook refused');
      throw error;
    }
  }
}

/** Bytes whose signature held, parsed and shape-checked as every other route's body is. */
function parseVerifiedBody(bytes: Buffer): unknown {
  let body: unknown;
  try {
    body = parseAuthenticatedJson(bytes);
  } catch {
    throw new InvalidJsonError();
  }
  const problem = findBodyProblem(body);
  if (problem) throw new ValidationFailedError([problem]);
  return body;
}

/** The event's envelope, and its data checked as a payment when the type is one the receiver acts on. */
function readEvent(body: unknown): Omit<VerifiedEvent, 'webhookId'> {
  const envelope = validated(WebhookEnvelopeDto, body);
  if (!(PAYMENT_EVENT_TYPES as readonly string[]).includes(envelope.type))
    return { type: envelope.type };
  return {
    type: envelope.type,
    payment: validated(PaymentDataDto, envelope.data, 'data'),
  };
}

function validated<T extends object>(
  cls: new () => T,
  value: unknown,
  field = '',
): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ValidationFailedError([
      {
        field: field || 'body',
        message: `${field || 'body'} must be a JSON object`,
      },
    ]);
  const instance = plainToInstance(cls, value);
  const errors = validateSync(instance, {
    validationError: { target: false, value: false },
  });
  if (errors.length > 0)
    throw new ValidationFailedError(validationDetails(errors, field));
  return instance;
}
