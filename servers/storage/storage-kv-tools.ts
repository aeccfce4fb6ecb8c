import type { AuthorServer } from '../../src/hosted/author-api';
import { z } from 'zod';
import { SENSITIVE_META } from '../../src/hosted/request-audit';
import { keyProblem, LIMITS, utf8Bytes } from './storage-limits';
import { ok, refuse } from './storage-results';

/** KV type under which the tools keep tenant values: `tenant-<id>:kv:<key>`. */
const KV_TYPE = 'kv';

/**
 * kv_get, kv_list (read-only) and kv_put, kv_delete (writes) over the caller's tenant KV. `call.kv()`
 * (`call.kv()`) is bound to the principal of the call being handled, so no input can name another tenant.
 */
export function registerKvTools(server: AuthorServer): void {
  server.tool(
    'kv_get',
    {
      title: 'Get a value',
      description: `Read one value of your tenant's key-value store. Keys are 1-${LIMITS.keyBytes} bytes.`,
      inputSchema: { key: z.string().max(4096) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ key }, call) => {
      const problem = keyProblem(key);
      if (problem) return refuse(`Invalid key: ${problem}`);
      const value = await call.kv().get(KV_TYPE, key);
      return value === null ? refuse(`No value for key "${key}"`) : ok({ key, value });
    },
  );

  server.tool(
    'kv_list',
    {
      title: 'List keys',
      description: `List keys of your tenant's key-value store, optionally starting with a prefix; up to ${LIMITS.listPage} per page, pass the returned cursor for the next page.`,
      inputSchema: {
        prefix: z.string().max(4096).default(''),
        limit: z.number().int().min(1).max(LIMITS.listPage).default(100),
        cursor: z.string().max(4096).optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ prefix, limit, cursor }, call) => {
      const problem = prefix === '' ? null : keyProblem(prefix);
      if (problem) return refuse(`Invalid prefix: ${problem.replace('key', 'prefix')}`);
      const page = await call.kv().list(KV_TYPE, { idPrefix: prefix, limit, cursor });
      return ok({ keys: page.ids, cursor: page.cursor ?? null });
    },
  );

  server.tool(
    'kv_put',
    {
      title: 'Put a value',
      description: `Store a string value under a key (replacing any value there). Keys 1-${LIMITS.keyBytes} bytes, values up to ${LIMITS.valueBytes} bytes (UTF-8). Optional ttlSeconds (at least 60) expires the value.`,
      inputSchema: {
        key: z.string().max(4096),
        value: z.string(),
        ttlSeconds: z
          .number()
          .int()
          .min(60)
          .max(365 * 24 * 3600)
          .optional(),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      // Tenant data stays out of the audit trail: the key is recorded, the value redacted.
      _meta: { [SENSITIVE_META]: ['value'] },
    },
    async ({ key, value, ttlSeconds }, call) => {
      const problem = keyProblem(key);
      if (problem) return refuse(`Invalid key: ${problem}`);
      const bytes = utf8Bytes(value);
      if (bytes > LIMITS.valueBytes) return refuse(`Value too large: ${bytes} bytes, the limit is ${LIMITS.valueBytes} bytes`);
      await call.kv().put(KV_TYPE, key, value, ttlSeconds ? { expirationTtl: ttlSeconds } : undefined);
      return ok({ key, bytes });
    },
  );

  server.tool(
    'kv_delete',
    {
      title: 'Delete a value',
      description: "Delete one key of your tenant's key-value store. Says whether a value was there.",
      inputSchema: { key: z.string().max(4096) },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ key }, call) => {
      const problem = keyProblem(key);
      if (problem) return refuse(`Invalid key: ${problem}`);
      const store = call.kv();
      const existed = (await store.get(KV_TYPE, key)) !== null;
      await store.delete(KV_TYPE, key);
      return ok({ key, deleted: existed });
    },
  );
}
