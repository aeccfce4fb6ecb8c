import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Key prefix of durably stored events: the layout of the Agents SDK's `DurableObjectEventStore`. */
const PREFIX = '__mcp_event__:';
/** The SDK transport's id of the standalone GET stream (the one stream that outlives an object's incarnation). */
const STANDALONE = '_GET_stream';
const SEQ_PAD = 16;
/** Most events one resumption replays. */
const REPLAY_LIMIT = 1000;
/** POST streams whose events are held at once (streams whose client left without their last answer); the oldest go first. */
const MAX_HELD_STREAMS = 256;

const eventId = (streamId: StreamId, seq: number) => `${streamId}:${seq.toString(16).padStart(SEQ_PAD, '0')}`;

/**
 * The session's SSE event log, for resumption with `Last-Event-ID` (what the framework's bridge
 * offered). Two kinds of stream, kept where they can be resumed from:
 * - a POST stream lives only as long as its requests, which live only as long as this incarnation
 *   of the object, so its events are held in the object's memory and dropped as soon as its last
 *   response was written (`clearStream`, called by `SessionHttpTransport`); a stream whose client
 *   went away keeps them for a reconnect, up to `MAX_HELD_STREAMS` streams (oldest dropped first).
 *   No storage write on the hot path;
 * - the standalone GET stream (server-initiated messages) outlives incarnations: its events are
 *   stored in the object's storage (`__mcp_event__:_GET_stream:<seq>`, the Agents SDK's layout) and
 *   deleted with the session.
 */
export class SessionEventStore implements EventStore {
  private readonly held = new Map<StreamId, JSONRPCMessage[]>();
  private standaloneSeq: number | undefined;
  private standaloneLoad?: Promise<number>;

  constructor(private readonly storage: DurableObjectStorage) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    if (streamId.includes(':')) throw new Error(`SessionEventStore: stream id must not contain ':' (${JSON.stringify(streamId)})`);
    if (streamId === STANDALONE) {
      if (this.standaloneSeq === undefined) {
        const last = await (this.standaloneLoad ??= this.lastStandaloneSeq());
        this.standaloneSeq ??= last;
      }
      const seq = ++this.standaloneSeq;
      const id = eventId(streamId, seq);
      await this.storage.put(`${PREFIX}${id}`, message);
      return id;
    }
    let events = this.held.get(streamId);
    if (!events) {
      if (this.held.size >= MAX_HELD_STREAMS) this.held.delete(this.held.keys().next().value!);
      events = [];
      this.held.set(streamId, events);
    }
    events.push(message);
    return eventId(streamId, events.length);
  }

  async getStreamIdForEventId(id: EventId): Promise<StreamId | undefined> {
    const at = id.lastIndexOf(':');
    return at > 0 ? id.slice(0, at) : undefined;
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    const streamId = await this.getStreamIdForEventId(lastEventId);
    if (!streamId) return '';
    if (streamId === STANDALONE) {
      const rows = await this.storage.list<JSONRPCMessage>({ prefix: `${PREFIX}${streamId}:`, start: `${PREFIX}${lastEventId}\x00`, limit: REPLAY_LIMIT });
      for (const [key, message] of rows) await send(key.slice(PREFIX.length), message);
      return streamId;
    }
    const after = Number.parseInt(lastEventId.slice(streamId.length + 1), 16);
    const events = this.held.get(streamId) ?? [];
    for (let seq = (Number.isFinite(after) ? after : 0) + 1; seq <= events.length; seq++) await send(eventId(streamId, seq), events[seq - 1]!);
    return streamId;
  }

  /** Forget a POST stream whose last response was written. */
  clearStream(streamId: StreamId): void {
    this.held.delete(streamId);
  }

  private async lastStandaloneSeq(): Promise<number> {
    const prefix = `${PREFIX}${STANDALONE}:`;
    let seq = 0;
    for (const key of (await this.storage.list({ prefix, reverse: true, limit: 1 })).keys()) {
      const n = Number.parseInt(key.slice(prefix.length), 16);
      if (Number.isFinite(n)) seq = n;
    }
    return seq;
  }
}
