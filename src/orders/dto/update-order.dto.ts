import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, ValidateBy } from 'class-validator';
import {
  IsOrderMetadata,
  type MetadataPatch,
  metadataSchema,
} from '../order-metadata';

/**
 * A field of the order that no PATCH changes. Declared so that a client sending it is told which
 * field and why, rather than "1 property is not defined by the API".
 */
function ReadOnly(): PropertyDecorator {
  return ValidateBy({
    name: 'readOnly',
    validator: {
      validate: (value: unknown) => value === undefined,
      defaultMessage: (args) =>
        `${args?.property} cannot be changed: a PATCH changes note and metadata only`,
    },
  });
}

/**
 * A JSON Merge Patch (RFC 7396) of an order: a member present sets that field, `null` deletes it
 * (the note, a metadata key, or with `"metadata": null` every key), a member absent leaves it.
 */
export class UpdateOrderDto {
  @ApiPropertyOptional({
    type: String,
    maxLength: 500,
    nullable: true,
    description:
      'The new note; null deletes it. Changes only while the order is created.',
    example: 'leave at the back door',
  })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string | null;

  @ApiPropertyOptional({
    ...metadataSchema(true),
    nullable: true,
    example: { crmId: 'C-1042', channel: null },
  })
  @IsOptional()
  @IsOrderMetadata({ nullValues: true })
  metadata?: MetadataPatch | null;

  @ReadOnly() id?: never;
  @ReadOnly() status?: never;
  @ReadOnly() currency?: never;
  @ReadOnly() items?: never;
  @ReadOnly() totalCents?: never;
  @ReadOnly() createdAt?: never;
  @ReadOnly() paidAt?: never;
}
