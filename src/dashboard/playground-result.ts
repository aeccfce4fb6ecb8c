import type { AuditEvent } from '../audit/audit-event';
import { html, type SafeHtml } from '../http/html';
import { when } from './dashboard-layout';
import type { RpcOutcome } from './playground-mcp';

/**
 * How the playground shows what a call returned: each content item by type (text, images,
 * embedded resources, links), structured content as JSON, tool errors and protocol refusals, and
 * the audit event the call produced. Everything is escaped; images are shown only for raster types
 * with well-formed base64 (the playground page allows `data:` images and nothing else).
 */

/** Image types shown inline; SVG is not (it is a document, not a picture). */
const SHOWN_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Larger images are described, not shown. */
const MAX_INLINE_IMAGE_CHARS = 2_000_000;

const pretty = (value: unknown) => JSON.stringify(value, null, 2) ?? 'undefined';

function contentItem(item: Record<string, unknown>, tool: string): SafeHtml {
  const type = String(item.type ?? 'unknown');
  if (type === 'text') return html`<pre class="result-text">${String(item.text ?? '')}</pre>`;
  if (type === 'image' || type === 'audio') {
    const mime = String(item.mimeType ?? '');
    const data = String(item.data ?? '');
    if (type === 'image' && SHOWN_IMAGES.has(mime) && data.length <= MAX_INLINE_IMAGE_CHARS && BASE64.test(data)) {
      return html`<figure><img class="result-image" src="data:${mime};base64,${data}" alt="Image returned by ${tool}"><figcaption class="muted small">${mime}</figcaption></figure>`;
    }
    return html`<p class="muted">${type} (${mime || 'unknown type'}, ${Math.floor((data.length * 3) / 4)} bytes) not shown</p>`;
  }
  if (type === 'resource') {
    const resource = (item.resource ?? {}) as Record<string, unknown>;
    return html`<div class="result-resource"><p>Resource <code>${String(resource.uri ?? '')}</code> ${resource.mimeType ? html`<span class="muted">(${String(resource.mimeType)})</span>` : ''}</p>
  ${typeof resource.text === 'string' ? html`<pre class="result-text">${resource.text}</pre>` : html`<p class="muted">binary, ${String(resource.blob ?? '').length} base64 characters</p>`}</div>`;
  }
  if (type === 'resource_link') return html`<p>Link to resource <code>${String(item.uri ?? '')}</code>${item.name ? html` (${String(item.name)})` : ''}</p>`;
  return html`<pre class="result-text">${pretty(item)}</pre>`;
}

/** The outcome of one call: result content, or the error the tool or the platform returned. */
export function resultPanel(tool: string, outcome: RpcOutcome): SafeHtml {
  if (!outcome.ok) {
    return html`<section class="panel result" aria-labelledby="result-title" data-result="refused">
  <h2 id="result-title">Result of ${tool}: refused</h2>
  <p class="error" role="alert">${outcome.message}</p>
  <p class="muted small">JSON-RPC error ${String(outcome.code)}, HTTP ${String(outcome.status)}. The same answer any MCP client with your role gets.</p>
</section>`;
  }
  const result = (outcome.result ?? {}) as { content?: unknown; structuredContent?: unknown; isError?: unknown };
  const content = Array.isArray(result.content) ? (result.content as Array<Record<string, unknown>>) : [];
  const isError = result.isError === true;
  return html`<section class="panel result" aria-labelledby="result-title" data-result="${isError ? 'tool-error' : 'ok'}">
  <h2 id="result-title">Result of ${tool}${isError ? html` <span class="badge bad">tool error</span>` : html` <span class="badge ok">ok</span>`}</h2>
  ${content.length ? content.map((item) => contentItem(item, tool)) : html`<p class="muted">No content.</p>`}
  ${result.structuredContent !== undefined ? html`<h3>Structured content</h3><pre class="result-json">${pretty(result.structuredContent)}</pre>` : ''}
</section>`;
}

/** The audit event of the call, or a link to look again when it has not been delivered yet. */
export function auditPanel(event: AuditEvent | null, retryUrl: string): SafeHtml {
  if (!event) {
    return html`<section class="panel" aria-labelledby="audit-title"><h2 id="audit-title">Audit event</h2>
  <p>Not delivered to the audit trail yet. <a href="${retryUrl}" data-audit-retry>Look again</a></p></section>`;
  }
  const rows: Array<[string, string]> = [
    ['Time', when(event.time)],
    ['Action', event.action],
    ['Result', event.result],
    ['Server', event.server ?? '—'],
    ['Tool', event.resource ?? '—'],
    ['User', event.user ?? '—'],
    ['Client', event.client ?? '—'],
    ['Latency', event.latencyMs === null ? '—' : `${event.latencyMs} ms`],
    ['Correlation id', event.correlationId ?? '—'],
  ];
  return html`<section class="panel" aria-labelledby="audit-title" data-audit-event="${event.id}"><h2 id="audit-title">Audit event</h2>
  <dl class="fields">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
  ${event.details ? html`<pre class="result-json">${pretty(event.details)}</pre>` : ''}
</section>`;
}
