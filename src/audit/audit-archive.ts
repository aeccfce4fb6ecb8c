import type { AuditShard } from './audit-shard';

/**
 * Long-term export: each finished day of each scope's trail becomes one JSON Lines file in R2,
 * written by the daily cron before retention deletes the day. The files live under
 * `audit-exports/`, outside every `tenant-<id>/` prefix, so a tenant's storage tools (confined to
 * their prefix by src/storage/tenant-files.ts) can neither read nor overwrite them.
 */
export const ARCHIVE_PREFIX = 'audit-exports/';
/** R2 multipart parts must be at least 5 MiB (except the last). */
const PART_BYTES = 5 * 1024 * 1024;
const PAGE = 2000;

/** The R2 key of `scope`'s file for `day`. */
export function archiveKey(scope: string, day: string): string {
  return `${ARCHIVE_PREFIX}${scope}/${day}.jsonl`;
}

/**
 * Write every event of the shard, oldest first, one JSON object per line, to `key`. Small days go
 * in one put; large ones stream as a multipart upload in 5 MiB parts, so memory stays bounded.
 * Rewriting a day gives the same file (the events are read in a fixed order).
 */
export async function archiveShard(shard: AuditShard, bucket: R2Bucket, key: string): Promise<{ events: number; bytes: number }> {
  const encoder = new TextEncoder();
  let upload: R2MultipartUpload | null = null;
  const parts: R2UploadedPart[] = [];
  let chunks: Uint8Array[] = [];
  let pending = 0;
  let events = 0;
  let bytes = 0;
  const flushPart = async () => {
    upload ??= await bucket.createMultipartUpload(key, { httpMetadata: { contentType: 'application/x-ndjson' } });
    parts.push(await upload.uploadPart(parts.length + 1, concat(chunks, pending)));
    chunks = [];
    pending = 0;
  };
  let after: { time: number; id: string } | null = null;
  for (;;) {
    const page = shard.ascending(after, PAGE);
    if (page.length === 0) break;
    const chunk = encoder.encode(page.map((e) => JSON.stringify(e)).join('\n') + '\n');
    chunks.push(chunk);
    pending += chunk.length;
    bytes += chunk.length;
    events += page.length;
    const last = page[page.length - 1]!;
    after = { time: last.time, id: last.id };
    if (pending >= PART_BYTES) await flushPart();
  }
  if (upload === null) {
    await bucket.put(key, concat(chunks, pending), { httpMetadata: { contentType: 'application/x-ndjson' } });
  } else {
    if (pending > 0) await flushPart();
    await (upload as R2MultipartUpload).complete(parts);
  }
  return { events, bytes };
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
