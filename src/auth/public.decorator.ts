import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'auth:public';

/** Opens a route to unauthenticated callers (health checks). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
