import type { AuthorServer } from '../../src/hosted/author-api';
import { z } from 'zod';
import { SENSITIVE_META } from '../../src/hosted/request-audit';
import { dirProblem, LIMITS, pathProblem } from './storage-limits';
import { ok, refuse } from './storage-results';

const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}(; *[a-z0-9_-]+=[a-z0-9_.-]+)?$/i;

function decodeBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/**
 * files_list, files_get (read-only) and files_put (write) over the caller's tenant folder in R2
 * (`tenant-<id>/`). Paths are checked here for a clear message and again by `TenantFiles`.
 */
export function registerFileTools(server: AuthorServer): void {
  server.tool(
    'files_list',
    {
      title: 'List files',
      description: `List your tenant's files, optionally under a directory ("reports/"); up to ${LIMITS.listPage} per page, pass the returned cursor for the next page.`,
      inputSchema: {
        dir: z.string().max(4096).default(''),
        limit: z.number().int().min(1).max(LIMITS.listPage).default(100),
        cursor: z.string().max(4096).optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ dir, limit, cursor }, call) => {
      const problem = dirProblem(dir);
      if (problem) return refuse(`Invalid dir: ${problem}`);
      const page = await call.files().list({ dir, limit, cursor });
      return ok({ files: page.objects, cursor: page.cursor ?? null });
    },
  );

  server.tool(
    'files_get',
    {
      title: 'Read a file',
      description: `Read one of your tenant's files (up to ${LIMITS.fileBytes} bytes) as UTF-8 text, or as base64 with encoding "base64".`,
      inputSchema: { path: z.string().max(4096), encoding: z.enum(['utf-8', 'base64']).default('utf-8') },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path, encoding }, call) => {
      const problem = pathProblem(path);
      if (problem) return refuse(`Invalid path: ${problem}`);
      const object = await call.files().get(path);
      if (!object) return refuse(`No file at "${path}"`);
      if (object.size > LIMITS.fileBytes) {
        await object.body.cancel();
        return refuse(`File is ${object.size} bytes; files_get returns at most ${LIMITS.fileBytes}`);
      }
      const bytes = new Uint8Array(await object.arrayBuffer());
      const mimeType = object.httpMetadata?.contentType ?? 'application/octet-stream';
      const uri = `storage://files/${path.split('/').map(encodeURIComponent).join('/')}`;
      if (encoding === 'base64') return { content: [{ type: 'resource', resource: { uri, mimeType, blob: encodeBase64(bytes) } }] };
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
      } catch {
        return refuse(`File "${path}" is not UTF-8 text; read it with encoding "base64"`);
      }
      return { content: [{ type: 'resource', resource: { uri, mimeType, text } }] };
    },
  );

  server.tool(
    'files_put',
    {
      title: 'Write a file',
      description: `Write a file (replacing any file at that path). Paths are relative, 1-${LIMITS.pathBytes} bytes, without "." or ".." segments; content up to ${LIMITS.fileBytes} bytes, as UTF-8 text or base64 with encoding "base64".`,
      inputSchema: {
        path: z.string().max(4096),
        content: z.string(),
        encoding: z.enum(['utf-8', 'base64']).default('utf-8'),
        contentType: z.string().max(200).optional(),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      _meta: { [SENSITIVE_META]: ['content'] },
    },
    async ({ path, content, encoding, contentType }, call) => {
      const problem = pathProblem(path);
      if (problem) return refuse(`Invalid path: ${problem}`);
      if (contentType !== undefined && !CONTENT_TYPE.test(contentType)) return refuse('Invalid contentType: expected a media type such as "text/plain"');
      const bytes = encoding === 'base64' ? decodeBase64(content) : new TextEncoder().encode(content);
      if (!bytes) return refuse('Invalid content: not valid base64');
      if (bytes.byteLength > LIMITS.fileBytes) return refuse(`File too large: ${bytes.byteLength} bytes, the limit is ${LIMITS.fileBytes} bytes`);
      const type = contentType ?? (encoding === 'base64' ? 'application/octet-stream' : 'text/plain; charset=utf-8');
      const written = await call.files().put(path, bytes, { httpMetadata: { contentType: type } });
      return ok({ path, size: written.size });
    },
  );
}
