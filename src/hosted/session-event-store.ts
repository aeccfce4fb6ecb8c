import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Key prefix of stored events: the layout of the Agents SDK's `DurableObjectEventStore`, so ids stay compatible. */
const PREFIX = '__mcp_event__:';
/** The SDK transport's id of the standalone GET stream (the one stream that outlives an object's incarnation). */
const STANDALONE = '_GET_stream';
const SEQ_PAD = 16;
/** Most keys one storage call may take (Durable Object storage limit). */
const CHUNK = 128;
/** Most events one resumption replays. */
const REPLAY_LIMIT = 1000;

/**
 * The session's SSE event log, for resumption with `Last-Event-ID` (what the framework's bridge
 * offered): every event the Streamable HTTP transport writes is stored in the session object's own
 * storage under `__mcp_event__:<stream>:<seq>`, and a POST stream's events are deleted as soon as
 * its last response was written (`clearStream`, called by `SessionHttpTransport`), so storage holds
 * only in-flight POST streams and the standalone GET stream, which lives as long as the session.
 *
 * Leaner than the Agents SDK's `DurableObjectEventStore` on the hot path: a POST stream is born in
 * this incarnation of the object (its id is a fresh UUID and its requests die with the instance),
 * so its counter starts at zero without a storage scan, and clearing it deletes the keys it wrote
 * without listing them. Only the standalone stream's counter is read back from storage, once.
 */
export class SessionEventStore implements EventStore {
  private readonly seq = new Map<StreamId, number>();
  private standaloneLoaded = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    if (streamId.includes(':')) throw new Error(`SessionEventStore: stream id must not contain ':' (${JSON.stringify(streamId)})`);
    if (streamId === STANDALONE && !this.standaloneLoaded) await this.loadStandalone();
    const next = (this.seq.get(streamId) ?? 0) + 1;
    this.seq.set(streamId, next);
    const eventId = `${streamId}:${next.toString(16).padStart(SEQ_PAD, '0')}`;
    await this.storage.put(`${PREFIX}${eventId}`, message);
    return eventId;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const at = eventId.lastIndexOf(':');
    return at > 0 ? eventId.slice(0, at) : undefined;
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    const streamId = await this.getStreamIdForEventId(lastEventId);
    if (!streamId) return '';
    const rows = await this.storage.list<JSONRPCMessage>({ prefix: `${PREFIX}${streamId}:`, start: `${PREFIX}${lastEventId}\x00`, limit: REPLAY_LIMIT });
    for (const [key, message] of rows) await send(key.slice(PREFIX.length), message);
    return streamId;
  }

  /** Forget a POST stream whose last response was written: delete the events this incarnation stored for it. */
  async clearStream(streamId: StreamId): Promise<void> {
    const count = this.seq.get(streamId) ?? 0;
    this.seq.delete(streamId);
    const keys = Array.from({ length: count }, (_, i) => `${PREFIX}${streamId}:${(i + 1).toString(16).padStart(SEQ_PAD, '0')}`);
    for (let i = 0; i < keys.length; i += CHUNK) await this.storage.delete(keys.slice(i, i + CHUNK));
  }

  private async loadStandalone(): Promise<void> {
    const prefix = `${PREFIX}${STANDALONE}:`;
    const last = await this.storage.list({ prefix, reverse: true, limit: 1 });
    for (const key of last.keys()) {
      const n = Number.parseInt(key.slice(prefix.length), 16);
      if (Number.isFinite(n)) this.seq.set(STANDALONE, Math.max(this.seq.get(STANDALONE) ?? 0, n));
    }
    this.standaloneLoaded = true;
  }
}
