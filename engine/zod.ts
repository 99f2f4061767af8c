import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// zod 4 gives each schema its methods when it is built, so `.openapi()` must
// be added before any schema exists: every schema imports `z` from here.
extendZodWithOpenApi(z);

export { z };

/** A string holding JSON (an environment variable's value), parsed; a string that is not JSON is an issue "must be JSON". */
export function jsonText() {
  return z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  });
}
