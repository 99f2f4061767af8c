import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Adds `.openapi()` to zod schemas once, so request schemas feed the
// OpenAPI document from the same place they validate.
extendZodWithOpenApi(z);

export { z };
