import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiHeader,
  ApiNotModifiedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser } from '../auth/authenticated-user';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { parseEntityTagCondition, weakMatch } from '../common/entity-tags';
import {
  ApiError,
  ErrorCode,
  OrderNotFoundError,
  PreconditionRequiredError,
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
import { UpdateOrderDto } from './dto/update-order.dto';
import { OrderChangesService } from './order-changes.service';
import { ETAG_HEADER, IF_MATCH_HEADER, REPLAYED_HEADER } from './order-headers';
import { type OrderRevision, versionsNamed } from './orders.sql';
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
  constructor(
    private readonly orders: OrdersService,
    private readonly changes: OrderChangesService,
  ) {}

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
      ...ETAG_HEADER,
      ...REPLAYED_HEADER,
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
    const revision = await this.orders.create(user.id, dto, idempotency);
    reply.header('Location', `/orders/${revision.order.id}`);
    return sendRevision(reply, revision);
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
  @ApiHeader({
    name: 'If-None-Match',
    required: false,
    description:
      'The ETag of your copy: when it is still current the answer is 304 with no body (weak comparison; `*` always matches).',
    schema: { type: 'string', maxLength: 1024 },
  })
  @ApiOkResponse({ type: OrderView, headers: ETAG_HEADER })
  @ApiNotModifiedResponse({
    description:
      'If-None-Match names the current version: your copy is current. No body.',
    headers: ETAG_HEADER,
  })
  @ApiError(
    400,
    [ErrorCode.INVALID_PRECONDITION],
    'If-None-Match is not a list of entity tags.',
  )
  @ApiError(
    404,
    [ErrorCode.ORDER_NOT_FOUND],
    "Unknown id, malformed id, or another user's order.",
  )
  async findOne(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', anyUuid) id: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    // The route sends its answer itself: Nest would set its default 200 over a 304 set here.
    @Res() reply: FastifyReply,
  ): Promise<FastifyReply> {
    const condition = parseEntityTagCondition(ifNoneMatch, 'If-None-Match');
    const revision = await this.orders.findOne(user.id, id);
    reply.header('ETag', revision.etag);
    return condition && weakMatch(condition, revision.etag)
      ? reply.code(304).send()
      : reply.send(revision.order);
  }

  @Patch(':id')
  @Idempotent({ required: false })
  @ApiParam(ORDER_ID_PARAM)
  @ApiOperation({
    summary:
      'Change the note or metadata of an order (If-Match required, retry-safe with a key)',
    description:
      'A JSON Merge Patch (RFC 7396) of `note` and `metadata`: a member sets, `null` deletes, an absent member ' +
      'is left as it is. `If-Match` must carry the ETag you read (GET, or any answer about the order): a stale ' +
      'one is refused (412) and nothing changes. The note changes only while the order is `created`; metadata ' +
      'changes in every state. With an Idempotency-Key, a retry with the same key and patch replays the first ' +
      'answer (200, same body and ETag, `Idempotent-Replayed: true`) even though its If-Match is stale by then; ' +
      'the same key with another patch is 422, and while the first is in flight 409. A patch that changes ' +
      'nothing answers the order as it is, with its ETag unchanged.',
  })
  @ApiConsumes('application/merge-patch+json', 'application/json')
  @ApiHeader(IF_MATCH_HEADER)
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Optional here (the precondition already protects the order); send one to make a retry replay the ' +
      'first answer. 1 to 255 visible ASCII characters, unique per change. Scoped to the caller.',
    schema: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: DEFAULT_KEY_PATTERN.source,
    },
  })
  @ApiBody({
    type: UpdateOrderDto,
    examples: {
      change: {
        summary: 'Set a note and one metadata key, delete another',
        value: {
          note: 'leave at the back door',
          metadata: { crmId: 'C-1042', channel: null },
        },
      },
    },
  })
  @ApiOkResponse({
    type: OrderView,
    description:
      'Changed (or unchanged, for a patch that changes nothing), or replayed for a retry.',
    headers: { ...ETAG_HEADER, ...REPLAYED_HEADER },
  })
  @ApiError(
    400,
    [
      ErrorCode.VALIDATION_FAILED,
      ErrorCode.INVALID_JSON,
      ErrorCode.INVALID_PRECONDITION,
      ErrorCode.INVALID_IDEMPOTENCY_KEY,
    ],
    'A field that cannot change (named), bad metadata, a malformed If-Match or key: nothing changed.',
  )
  @ApiError(
    404,
    [ErrorCode.ORDER_NOT_FOUND],
    "Unknown id, malformed id, or another user's order.",
  )
  @ApiError(
    409,
    [ErrorCode.ORDER_NOTE_FROZEN, ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS],
    'The note of an order that is no longer created cannot change; or the same keyed request is in flight (honour Retry-After).',
    RETRY_AFTER_HEADER,
  )
  @ApiError(
    412,
    [ErrorCode.PRECONDITION_FAILED],
    'If-Match is not the current ETag: the order changed since you read it. The ETag header carries the current one.',
    ETAG_HEADER,
  )
  @ApiError(413, [ErrorCode.PAYLOAD_TOO_LARGE], 'Body over 64 KiB.')
  @ApiError(
    415,
    [ErrorCode.UNSUPPORTED_MEDIA_TYPE],
    'Body is not application/merge-patch+json or application/json.',
  )
  @ApiError(
    422,
    [ErrorCode.IDEMPOTENCY_KEY_REUSED],
    'The key was already used for a different request.',
  )
  @ApiError(
    428,
    [ErrorCode.PRECONDITION_REQUIRED],
    'No If-Match, or `If-Match: *`: send the ETag you read.',
  )
  async update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', anyUuid) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Body() patch: UpdateOrderDto,
    @IdempotencyRequest() idempotency: IdempotencyContext | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderView> {
    const condition = parseEntityTagCondition(ifMatch, 'If-Match');
    if (condition === undefined)
      throw new PreconditionRequiredError(
        "If-Match is required: send the order's ETag (from GET or any answer about it)",
      );
    if (condition === '*')
      throw new PreconditionRequiredError(
        "If-Match: * would not protect against lost updates: send the order's ETag",
      );
    const revision = await this.changes.update(
      user.id,
      id,
      patch,
      condition,
      idempotency,
    );
    return sendRevision(reply, revision);
  }

  @Delete(':id')
  @ApiParam(ORDER_ID_PARAM)
  @ApiOperation({
    summary:
      'Cancel an order (idempotent: repeating it returns the same cancelled order)',
    description:
      'A created order becomes cancelled; a cancelled one is answered as it is; a paid one is refused (409: ' +
      'refund it instead). Safe to retry without a key. With If-Match, a created order whose ETag it does not ' +
      'name is refused (412); an order already cancelled is answered as it is whatever If-Match names, so that ' +
      'a retry whose first answer was lost succeeds.',
  })
  @ApiHeader({ ...IF_MATCH_HEADER, required: false, example: undefined })
  @ApiOkResponse({ type: OrderView, headers: ETAG_HEADER })
  @ApiError(
    400,
    [ErrorCode.INVALID_PRECONDITION],
    'If-Match is not `*` or a list of entity tags.',
  )
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
  @ApiError(
    412,
    [ErrorCode.PRECONDITION_FAILED],
    'If-Match does not name the current ETag of a created order. The ETag header carries the current one.',
    ETAG_HEADER,
  )
  async cancel(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', anyUuid) id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderView> {
    const condition = parseEntityTagCondition(ifMatch, 'If-Match');
    const versions =
      condition === undefined || condition === '*'
        ? undefined
        : versionsNamed(condition);
    return sendRevision(reply, await this.orders.cancel(user.id, id, versions));
  }
}

/** The answer about one order: its ETag in the header, the order in the body. */
function sendRevision(reply: FastifyReply, revision: OrderRevision): OrderView {
  reply.header('ETag', revision.etag);
  return revision.order;
}
