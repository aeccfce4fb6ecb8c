import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { buildInfo, buildLabel } from '../../src/observability/build-info';
import { ORIGIN } from './platform-client';

/**
 * What is serving: `/health` and the dashboard footer report the deploy-time build label
 * (`SMCP_BUILD`, "dev" in wrangler.jsonc's local configuration) and Cloudflare's version id/tag
 * when the `version_metadata` binding is present (docs/deploy.md, rollback).
 */
describe('build version', () => {
  it('is reported by /health with the version metadata binding', async () => {
    const health = (await (await SELF.fetch(`${ORIGIN}/health`)).json()) as { build: unknown; version: { id: string } | null };
    expect(health.build).toBe('dev');
    const meta = (env as { CF_VERSION_METADATA?: { id: string } }).CF_VERSION_METADATA;
    expect(health.version?.id ?? null).toBe(meta?.id ?? null);
  });

  it('is in the footer of every dashboard page, signed in or not', async () => {
    const page = await (await SELF.fetch(`${ORIGIN}/dashboard/sign-in`)).text();
    expect(page).toMatch(/<footer class="site-footer"><p class="muted small" data-build>SMCP build dev( · version [0-9a-f-]{1,8}[^<]*)?<\/p><\/footer>/);
  });

  it('reports only plain labels, so a hostile value never reaches a page', () => {
    expect(buildInfo({ SMCP_BUILD: '<script>alert(1)</script>' }).build).toBeNull();
    expect(buildInfo({ SMCP_BUILD: 'a'.repeat(65) }).build).toBeNull();
    expect(buildInfo({ SMCP_BUILD: '' }).build).toBeNull();
    expect(buildInfo(undefined)).toEqual({ build: null, version: null });
    const info = buildInfo({
      SMCP_BUILD: '1a2b3c4',
      CF_VERSION_METADATA: { id: '0f1e2d3c-aaaa-bbbb-cccc-000000000000', tag: 'v1.2', timestamp: '2026-11-30T10:00:00Z' },
    });
    expect(info).toEqual({ build: '1a2b3c4', version: { id: '0f1e2d3c-aaaa-bbbb-cccc-000000000000', tag: 'v1.2', timestamp: '2026-11-30T10:00:00Z' } });
    expect(buildLabel(info)).toBe('build 1a2b3c4 · version 0f1e2d3c (v1.2)');
    expect(buildInfo({ CF_VERSION_METADATA: { id: 'x"><img>', tag: 7 } }).version).toBeNull();
  });
});
