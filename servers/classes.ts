/**
 * Every hosted server class, re-exported by the Worker entry so wrangler can bind the Durable
 * Objects. Keep in step with `registry.ts` and `wrangler.jsonc` (a test checks all three).
 */
export { NotesServer } from './notes/notes.server';
export { EverythingServer } from './everything/everything.server';
export { StorageServer } from './storage/storage.server';
