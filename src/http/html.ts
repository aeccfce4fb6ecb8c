/**
 * Server-rendered HTML with the platform's browser protections: every interpolated string is
 * escaped by the `html` tag, and every page carries a strict CSP (no inline script or style),
 * no framing, no sniffing, HSTS and a strict referrer policy.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Markup that has already been escaped; only the `html` tag creates it. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Tagged template that escapes every interpolation unless it is SafeHtml (or an array of them). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    const parts = Array.isArray(v) ? v : [v];
    for (const part of parts) out += part instanceof SafeHtml ? part.value : escapeHtml(part ?? '');
    out += strings[i + 1] ?? '';
  });
  return new SafeHtml(out);
}

/**
 * The headers every HTML page gets; `formTargets` widens form-action for a consent redirect, and
 * `scripts` allows script files served by this Worker (never inline script) for pages that need them.
 */
export function securityHeaders(formTargets: string[] = [], opts: { scripts?: boolean } = {}): Headers {
  const formAction = ["'self'", ...formTargets].join(' ');
  const scripts = opts.scripts ? " script-src 'self';" : '';
  return new Headers({
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': `default-src 'none';${scripts} style-src 'self'; img-src 'self'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
    'Cache-Control': 'no-store',
  });
}

/** A complete page in the platform's layout. */
export function page(title: string, body: SafeHtml, init: { status?: number; headers?: Headers; formTargets?: string[] } = {}): Response {
  const headers = securityHeaders(init.formTargets);
  for (const [key, value] of init.headers ?? []) {
    if (!['set-cookie', 'content-security-policy', 'content-type'].includes(key.toLowerCase())) headers.set(key, value);
  }
  for (const cookie of init.headers?.getSetCookie() ?? []) headers.append('Set-Cookie', cookie);
  const doc = html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · SMCP</title><link rel="stylesheet" href="/assets/smcp.css"></head>
<body><main class="card">${body}</main></body>
</html>`;
  return new Response(doc.value, { status: init.status ?? 200, headers });
}

/** The one stylesheet, served from the Worker so the CSP can forbid inline styles. */
export const STYLESHEET = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; color: CanvasText; }
.card { max-width: 28rem; width: 100%; padding: 2rem; border: 1px solid GrayText; border-radius: 12px; }
h1 { font-size: 1.4rem; margin-top: 0; }
label { display: block; margin: 1rem 0 0.25rem; font-weight: 600; }
input[type=email], input[type=password] { width: 100%; box-sizing: border-box; padding: 0.6rem; font-size: 1rem; }
button { margin-top: 1.25rem; padding: 0.6rem 1.2rem; font-size: 1rem; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 3px solid Highlight; outline-offset: 2px; }
.error { color: #b00020; font-weight: 600; }
.warning { border-left: 4px solid #b26a00; padding-left: 0.75rem; }
.actions { display: flex; gap: 0.75rem; }
`;
