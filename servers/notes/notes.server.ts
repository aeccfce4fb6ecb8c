import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { HostedMcpAgent, type HostedServerInfo } from '../../src/hosted/hosted-mcp-agent';

interface NoteRow {
  id: number;
  title: string;
  body: string;
  created_at: number;
}

const MAX_TITLE = 200;
const MAX_BODY = 10_000;

function text(value: unknown) {
  return { content: [{ type: 'text' as const, text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] };
}

/**
 * Notes: a small per-session notebook kept in the session Durable Object's SQLite (`this.sql`), so
 * notes survive eviction of the object and vanish with the session. The reference for per-session
 * state on the platform.
 */
export class NotesServer extends HostedMcpAgent {
  protected readonly info: HostedServerInfo = {
    name: 'smcp-notes',
    version: '1.0.0',
    title: 'Notes',
    instructions: 'A per-session notebook: add, list, search and delete short notes.',
    capabilities: { tools: { listChanged: true } },
  };

  protected register(server: McpServer): void {
    this.sql`CREATE TABLE IF NOT EXISTS notes (
      id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL)`;

    server.registerTool(
      'add_note',
      {
        title: 'Add note',
        description: 'Store a note in this session.',
        inputSchema: { title: z.string().min(1).max(MAX_TITLE), body: z.string().max(MAX_BODY).default('') },
        annotations: { readOnlyHint: false, destructiveHint: false },
        // Note bodies are private: the audit trail keeps the title and redacts the body.
        _meta: { 'smcp/sensitive': ['body'] },
      },
      ({ title, body }) => {
        const [row] = this.sql<NoteRow>`INSERT INTO notes (title, body, created_at) VALUES (${title}, ${body}, ${Date.now()}) RETURNING *`;
        return text({ id: row?.id, title });
      },
    );

    server.registerTool(
      'list_notes',
      { title: 'List notes', description: 'List the notes of this session, newest first.', annotations: { readOnlyHint: true } },
      () => text(this.sql<NoteRow>`SELECT * FROM notes ORDER BY id DESC`),
    );

    server.registerTool(
      'search_notes',
      {
        title: 'Search notes',
        description: 'Find notes whose title or body contains the text (case-insensitive).',
        inputSchema: { query: z.string().min(1).max(MAX_TITLE) },
        annotations: { readOnlyHint: true },
      },
      ({ query }) => {
        const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        return text(this.sql<NoteRow>`SELECT * FROM notes WHERE title LIKE ${pattern} ESCAPE '\\' OR body LIKE ${pattern} ESCAPE '\\' ORDER BY id DESC`);
      },
    );

    server.registerTool(
      'delete_note',
      {
        title: 'Delete note',
        description: 'Delete one note by id.',
        inputSchema: { id: z.number().int().positive() },
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
      },
      ({ id }) => {
        const deleted = this.sql<NoteRow>`DELETE FROM notes WHERE id = ${id} RETURNING id`;
        if (deleted.length === 0) return { ...text(`No note with id ${id}`), isError: true };
        return text({ deleted: id });
      },
    );
  }
}
