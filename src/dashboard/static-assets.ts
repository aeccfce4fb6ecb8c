import uplotJs from 'uplot/dist/uPlot.iife.min.js';
import uplotCss from 'uplot/dist/uPlot.min.css';
import dashboardJs from './assets/dashboard.client.js';
import dashboardCss from './assets/dashboard.css';

/**
 * The dashboard's static files, bundled into the Worker as text modules (see `rules` in
 * wrangler.jsonc) so they are served from the same origin under the strict CSP, work the same in
 * `wrangler dev`, the vitest pool and production, and need no build step after `npm ci`.
 */
const FILES: Record<string, { body: string; type: string }> = {
  'dashboard.js': { body: dashboardJs, type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { body: dashboardCss, type: 'text/css; charset=utf-8' },
  'uplot.iife.min.js': { body: uplotJs, type: 'text/javascript; charset=utf-8' },
  'uplot.min.css': { body: uplotCss, type: 'text/css; charset=utf-8' },
};

/** `GET /dashboard/assets/<file>`, or null when there is no such file. */
export function serveAsset(name: string): Response | null {
  const file = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (!file) return null;
  return new Response(file.body, {
    headers: {
      'Content-Type': file.type,
      'Cache-Control': 'public, max-age=300',
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Resource-Policy': 'same-origin',
    },
  });
}
