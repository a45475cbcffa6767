import {
  Body,
  Controller,
  Delete,
  Get,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser } from '../auth/authenticated-user';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import {
  ApiError,
  ErrorCode,
  OrderNotFoundError,
  RETRY_AFTER_HEADER,
} from '../common/errors';
import {
  DEFAULT_KEY_PATTERN,
  Idempotent,
  IdempotencyRequest,
} from '../idempotency';
import type { IdempotencyContext } from '../idempotency';
import { CreateOrderDto } from './dto/create-order.dto';
import { ListOrdersQuery } from './dto/list-orders.query';
import { OrderPage, OrderView } from './dto/order.view';
import { OrdersService } from './orders.service';

/** An order's id: a UUID; anything else is answered 404 like an unknown id. */
const ORDER_ID_PARAM = {
  name: 'id',
  schema: { type: 'string', format: 'uuid', minLength: 36, maxLength: 36 },
} as const;

const anyUuid = new ParseUUIDPipe({
  exceptionFactory: () => new OrderNotFoundError(),
});

@ApiTags('orders')
@ApiBearerAuth()
@ApiError(
  401,
  [ErrorCode.UNAUTHORIZED],
  'Missing, malformed, expired or wrongly signed bearer token.',
)
@ApiError(
  503,
  [ErrorCode.SERVICE_UNAVAILABLE],
  'The database did not answer; retry later (same key for creates).',
)
@ApiError(
  429,
  [ErrorCode.TOO_MANY_REQUESTS],
  'Over the per-user rate limit (THROTTLE_LIMIT per THROTTLE_TTL_MS); honour Retry-After.',
  RETRY_AFTER_HEADER,
)
@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @Idempotent()
  @ApiOperation({
    summary: 'Create an order (retry-safe)',
    description:
      'Send a unique Idempotency-Key per order. Retrying with the same key and the same body returns the ' +
      'first response (201, same body, same Location) with `Idempotent-Replayed: true`, never a second order. ' +
      'The same key with a different body is refused (422); while the first request is still running, a ' +
      'retry gets 409 with Retry-After. Errors (4xx/5xx) are not remembered: fix the request and retry with the same key.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: true,
    description:
      '1 to 255 visible ASCII characters (0x21-0x7E), unique per order, e.g. a UUID. The IETF draft form, ' +
      'a quoted sf-string ("..."), names the same key as the bare value. Scoped to the caller.',
    schema: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: DEFAULT_KEY_PATTERN.source,
    },
    example: '0b5b8e0c-6f1e-4c8a-9d3e-2f7a1c4b9e51',
  })
  @ApiBody({
    type: CreateOrderDto,
    examples: {
      order: {
        summary: 'Two of one item, with a note',
        value: {
          currency: 'USD',
          items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
          note: 'gift wrap, please',
        },
      },
    },
  })
  @ApiCreatedResponse({
    type: OrderView,
    description:
      'Created, or replayed for a retry (then with `Idempotent-Replayed: true`).',
    headers: {
      Location: {
        description: '/orders/{id}',
        schema: { type: 'string', format: 'uri-reference', maxLength: 44 },
      },
      'Idempotent-Replayed': {
        description: 'Present and "true" when this is a replay',
        schema: { type: 'string', enum: ['true'] },
      },
    },
  })
  @ApiError(
    400,
    [
      ErrorCode.MISSING_IDEMPOTENCY_KEY,
      ErrorCode.INVALID_IDEMPOTENCY_KEY,
      ErrorCode.VALIDATION_FAILED,
      ErrorCode.INVALID_JSON,
    ],
    'Bad header or body; nothing was stored, a corrected retry with the same key creates the order.',
  )
  @ApiError(
    409,
    [ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS],
    'The same request is still in flight; honour Retry-After.',
    RETRY_AFTER_HEADER,
  )
  @ApiError(413, [ErrorCode.PAYLOAD_TOO_LARGE], 'Body over 64 KiB.')
  @ApiError(
    415,
    [ErrorCode.UNSUPPORTED_MEDIA_TYPE],
    'Body is not application/json.',
  )
  @ApiError(
    422,
    [ErrorCode.IDEMPOTENCY_KEY_REUSED],
    'The key was already used for a different request.',
  )
  async create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: CreateOrderDto,
    @IdempotencyRequest() idempotency: IdempotencyContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderView> {
    // A retry the database resolves is marked on the idempotency context; the interceptor then sends
    // Idempotent-Replayed and reports the outcome.
    const order = await this.orders.create(user.id, dto, idempotency);
    reply.header('Location', `/orders/${order.id}`);
    return order;
  }

  @Get()
  @ApiOperation({
    summary: "List the caller's orders, newest first",
    description:
      'Keyset pages of at most `limit` orders (1-100, default 20); pass `nextCursor` as `cursor` for the ' +
      'next page. A page deep in the list costs what the first does.',
  })
  @ApiOkResponse({ type: OrderPage })
  @ApiError(
    400,
    [ErrorCode.VALIDATION_FAILED, ErrorCode.INVALID_CURSOR],
    'Bad limit or cursor.',
  )
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Query() query: ListOrdersQuery,
  ): Promise<OrderPage> {
    return this.orders.list(user.id, query.limit ?? 20, query.cursor);
  }

  @Get(':id')
  @ApiParam(ORDER_ID_PARAM)
  @ApiOperation({
    summary: 'Read one of your orders',
    description:
      "The order's current state. Another user's order, an unknown id and a malformed id all answer 404, " +
      'so that ids cannot be probed.',
  })
  @ApiOkResponse({ type: OrderView })
  @ApiError(
    404,
    [ErrorCode.ORDER_NOT_FOUND],
    "Unknown id, malformed id, or another user's order.",
  )
  findOne(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', anyUuid) id: string,
  ): Promise<OrderView> {
    return this.orders.findOne(user.id, id);
  }

  @Delete(':id')
  @ApiParam(ORDER_ID_PARAM)
  @ApiOperation({
    summary:
      'Cancel an order (idempotent: repeating it returns the same cancelled order)',
    description:
      'A created order becomes cancelled; a cancelled one is answered as it is; a paid one is refused (409: ' +
      'refund it instead). Safe to retry without a key.',
  })
  @ApiOkResponse({ type: OrderView })
  @ApiError(
    404,
    [ErrorCode.ORDER_NOT_FOUND],
    "Unknown id, malformed id, or another user's order.",
  )
  @ApiError(
    409,
    [ErrorCode.ORDER_ALREADY_PAID],
    'The order is paid: it cannot be cancelled (refund it instead).',
  )
  cancel(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', anyUuid) id: string,
  ): Promise<OrderView> {
    return this.orders.cancel(user.id, id);
  }
}
