import { z } from 'zod';
import { defineServer, type PlatformCall } from '../../src/hosted/author-api';
import { HostedMcpAgent } from '../../src/hosted/hosted-mcp-agent';

interface NoteRow {
  id: number;
  title: string;
  body: string;
  created_at: number;
}

/** A notebook kept behind a state handle (any era): the notes and the next id. */
interface Notebook {
  next: number;
  notes: NoteRow[];
}

const MAX_TITLE = 200;
const MAX_BODY = 10_000;
const MAX_NOTEBOOK_NOTES = 200;
/** Handle kind of a notebook. */
const NOTEBOOK = 'notebook';

const notebookArg = z
  .string()
  .max(200)
  .optional()
  .describe('A notebook handle from notebook_open. Required without a session (MCP 2026-07-28); in a 2025 session, omit it to use the session notebook.');

function text(value: unknown) {
  return { content: [{ type: 'text' as const, text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] };
}

/**
 * Where a call's notes live: the notebook behind a handle when one is given (works in both eras),
 * else the session's own SQLite (2025 sessions only). A stateless call without a handle is told
 * how to get one.
 */
function store(call: PlatformCall, notebook: string | undefined) {
  if (notebook !== undefined) {
    const load = () => call.handles.open<Notebook>(notebook, NOTEBOOK);
    const save = (book: Notebook) => call.handles.update(notebook, NOTEBOOK, book);
    return {
      async add(title: string, body: string) {
        const book = await load();
        if (book.notes.length >= MAX_NOTEBOOK_NOTES) return null;
        const row = { id: book.next, title, body, created_at: Date.now() };
        await save({ next: book.next + 1, notes: [...book.notes, row] });
        return row;
      },
      list: async () => [...(await load()).notes].reverse(),
      async remove(id: number) {
        const book = await load();
        if (!book.notes.some((n) => n.id === id)) return false;
        await save({ ...book, notes: book.notes.filter((n) => n.id !== id) });
        return true;
      },
    };
  }
  const session = call.session;
  if (!session) return null;
  session.sql`CREATE TABLE IF NOT EXISTS notes (
      id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL)`;
  return {
    add: async (title: string, body: string) =>
      session.sql<NoteRow>`INSERT INTO notes (title, body, created_at) VALUES (${title}, ${body}, ${Date.now()}) RETURNING *`[0] ?? null,
    list: async () => session.sql<NoteRow>`SELECT * FROM notes ORDER BY id DESC`,
    remove: async (id: number) => session.sql<NoteRow>`DELETE FROM notes WHERE id = ${id} RETURNING id`.length > 0,
  };
}

const NO_NOTEBOOK = {
  ...text('No notebook: this client has no session (MCP 2026-07-28). Call notebook_open and pass the returned handle as "notebook".'),
  isError: true,
};

/**
 * Notes: a small notebook. In a 2025 session the default notebook is the session Durable Object's
 * SQLite (it survives eviction and vanishes with the session); in any era, `notebook_open` mints a
 * notebook behind a state handle bound to the caller, which a stateless (2026-07-28) client passes
 * to the note tools to keep notes across calls. The reference for state in both eras.
 */
export const notes = defineServer(
  {
    name: 'smcp-notes',
    version: '1.1.0',
    title: 'Notes',
    instructions:
      'A notebook: add, list, search and delete short notes. Without a session, open a notebook with notebook_open and pass its handle to the other tools.',
    capabilities: { tools: { listChanged: true } },
  },
  (server) => {
    server.tool(
      'notebook_open',
      {
        title: 'Open a notebook',
        description: 'Open a new notebook and return its handle; pass it as "notebook" to the note tools. It expires after a day without writes.',
        inputSchema: {
          ttlSeconds: z
            .number()
            .int()
            .min(60)
            .max(7 * 24 * 3600)
            .default(24 * 3600),
        },
        annotations: { readOnlyHint: false, destructiveHint: false },
      },
      async ({ ttlSeconds }, call) =>
        text({ notebook: await call.handles.mint<Notebook>(NOTEBOOK, { next: 1, notes: [] }, ttlSeconds), expiresInSeconds: ttlSeconds }),
    );

    server.tool(
      'add_note',
      {
        title: 'Add note',
        description: 'Store a note in the notebook.',
        inputSchema: { title: z.string().min(1).max(MAX_TITLE), body: z.string().max(MAX_BODY).default(''), notebook: notebookArg },
        annotations: { readOnlyHint: false, destructiveHint: false },
        // Note bodies are private: the audit trail keeps the title and redacts the body.
        _meta: { 'smcp/sensitive': ['body'] },
      },
      async ({ title, body, notebook }, call) => {
        const notes = store(call, notebook);
        if (!notes) return NO_NOTEBOOK;
        const row = await notes.add(title, body);
        if (!row) return { ...text(`The notebook is full (${MAX_NOTEBOOK_NOTES} notes)`), isError: true };
        return text({ id: row.id, title });
      },
    );

    server.tool(
      'list_notes',
      {
        title: 'List notes',
        description: 'List the notes of the notebook, newest first.',
        inputSchema: { notebook: notebookArg },
        annotations: { readOnlyHint: true },
      },
      async ({ notebook }, call) => {
        const notes = store(call, notebook);
        return notes ? text(await notes.list()) : NO_NOTEBOOK;
      },
    );

    server.tool(
      'search_notes',
      {
        title: 'Search notes',
        description: 'Find notes whose title or body contains the text (case-insensitive).',
        inputSchema: { query: z.string().min(1).max(MAX_TITLE), notebook: notebookArg },
        annotations: { readOnlyHint: true },
      },
      async ({ query, notebook }, call) => {
        const notes = store(call, notebook);
        if (!notes) return NO_NOTEBOOK;
        const needle = query.toLowerCase();
        return text((await notes.list()).filter((n) => n.title.toLowerCase().includes(needle) || n.body.toLowerCase().includes(needle)));
      },
    );

    server.tool(
      'delete_note',
      {
        title: 'Delete note',
        description: 'Delete one note by id.',
        inputSchema: { id: z.number().int().positive(), notebook: notebookArg },
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
      },
      async ({ id, notebook }, call) => {
        const notes = store(call, notebook);
        if (!notes) return NO_NOTEBOOK;
        if (!(await notes.remove(id))) return { ...text(`No note with id ${id}`), isError: true };
        return text({ deleted: id });
      },
    );

    server.tool(
      'notebook_close',
      {
        title: 'Close a notebook',
        description: 'Delete a notebook and its notes now (otherwise it expires on its own).',
        inputSchema: { notebook: z.string().max(200) },
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
      },
      async ({ notebook }, call) => {
        await call.handles.release(notebook, NOTEBOOK);
        return text({ closed: true });
      },
    );
  },
);

/** The notes server: one definition, served by sessions (this class) and statelessly. */
export class NotesServer extends HostedMcpAgent {
  static override readonly definition = notes;
}
