/**
 * The benchmark's workloads, each run against one target:
 * - steady: N sessions initialize, then each calls the trivial tool back to back for a fixed time;
 * - cold: one new session at a time, timed from initialize to the first tool result;
 * - in a row: many sessions opened one after another (initialize + initialized).
 */
import { performance } from 'node:perf_hooks';
import { callTool, closeSession, openSession, type Target } from './mcp-http.ts';
import { Recorder, type PhaseResult } from './stats.ts';

/** Run `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

async function closeAll(t: Target, ids: Array<string | null>): Promise<void> {
  await pool(ids, 10, (id) => closeSession(t, id).catch(() => undefined));
}

/** `sessions` concurrent sessions, each calling the tool in a loop for `durationMs` after a short warm-up. */
export async function steady(t: Target, sessions: number, durationMs: number, warmupCalls = 3): Promise<PhaseResult> {
  const rec = new Recorder();
  const opened = await Promise.all(Array.from({ length: sessions }, () => openSession(t)));
  const ids: Array<string | null> = [];
  for (const s of opened) {
    if ('error' in s) rec.fail(`open: ${s.error}`);
    else ids.push(s.sessionId);
  }
  await Promise.all(ids.map(async (id) => {
    for (let i = 0; i < warmupCalls; i++) await callTool(t, id);
  }));
  const start = performance.now();
  const stopAt = start + durationMs;
  await Promise.all(ids.map(async (id) => {
    while (performance.now() < stopAt) {
      const began = performance.now();
      const out = await callTool(t, id);
      if (out.ok) rec.ok(performance.now() - began);
      else rec.fail(out.error ?? 'call failed');
    }
  }));
  const wall = performance.now() - start;
  await closeAll(t, ids);
  return rec.result(t.name, `steady c=${sessions}`, wall);
}

/** `samples` cold sessions in sequence: initialize → initialized → first tools/call result. */
export async function cold(t: Target, samples: number): Promise<PhaseResult> {
  const rec = new Recorder();
  const ids: Array<string | null> = [];
  const start = performance.now();
  for (let i = 0; i < samples; i++) {
    const began = performance.now();
    const s = await openSession(t);
    if ('error' in s) {
      rec.fail(`open: ${s.error}`);
      continue;
    }
    ids.push(s.sessionId);
    const out = await callTool(t, s.sessionId);
    if (out.ok) rec.ok(performance.now() - began);
    else rec.fail(out.error ?? 'call failed');
  }
  const wall = performance.now() - start;
  await closeAll(t, ids);
  return rec.result(t.name, 'cold session', wall);
}

/** `count` sessions opened one after another; latency per session open, throughput in sessions/s. */
export async function inARow(t: Target, count: number): Promise<PhaseResult> {
  const rec = new Recorder();
  const ids: Array<string | null> = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const began = performance.now();
    const s = await openSession(t);
    if ('error' in s) rec.fail(`open: ${s.error}`);
    else {
      rec.ok(performance.now() - began);
      ids.push(s.sessionId);
    }
  }
  const wall = performance.now() - start;
  await closeAll(t, ids);
  return rec.result(t.name, `${count} sessions in a row`, wall);
}
