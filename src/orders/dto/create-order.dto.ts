import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  IsOrderMetadata,
  type OrderMetadata,
  metadataSchema,
} from '../order-metadata';

export class OrderItemDto {
  @ApiProperty({ example: 'ABC-1', minLength: 1, maxLength: 64 })
  @IsString()
  @Length(1, 64)
  sku: string;

  @ApiProperty({
    type: 'integer',
    format: 'int32',
    example: 2,
    minimum: 1,
    maximum: 1000,
  })
  @IsInt()
  @Min(1)
  @Max(1000)
  quantity: number;

  @ApiProperty({
    type: 'integer',
    format: 'int32',
    example: 1999,
    minimum: 0,
    maximum: 1_000_000_000,
    description: 'Integer cents',
  })
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  unitPriceCents: number;
}

export class CreateOrderDto {
  @ApiProperty({
    example: 'USD',
    pattern: '^[A-Z]{3}$',
    minLength: 3,
    maxLength: 3,
    description: 'ISO 4217 code, 3 uppercase letters',
  })
  @IsString()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be 3 uppercase letters' })
  currency: string;

  @ApiProperty({ type: [OrderItemDto], minItems: 1, maxItems: 100 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items: OrderItemDto[];

  @ApiPropertyOptional({
    type: String,
    maxLength: 500,
    nullable: true,
    example: 'gift wrap, please',
  })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string | null;

  @ApiPropertyOptional({
    ...metadataSchema(),
    example: { crmId: 'C-1042' },
  })
  @IsOptional()
  @IsOrderMetadata()
  metadata?: OrderMetadata;
}
