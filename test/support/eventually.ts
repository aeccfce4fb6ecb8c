import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` every 250 ms until it yields a truthy value and returns it, or fails naming what
 * never happened: for effects the platform makes asynchronously (health checks, alerts, audit
 * delivery), which a test must wait for without a fixed sleep.
 */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, tries = 120): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value) return value;
    await sleep(250);
  }
  throw new Error(`never happened: ${what}`);
}
