import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../../scripts/lib/local-platform.ts';

/** A wrangler configuration as the tests read it: the raw JSONC document, nothing resolved. */
export type WranglerConfig = Record<string, unknown> & {
  durable_objects?: { bindings?: Array<{ name: string; class_name: string }> };
  migrations?: Array<{ tag: string; new_sqlite_classes?: string[]; new_classes?: string[]; deleted_classes?: string[] }>;
  env?: Record<string, Record<string, unknown>>;
};

/** Parse the project's `wrangler.jsonc` (comments and trailing commas allowed); throws when it does not parse. */
export function wranglerConfig(file = join(ROOT, 'wrangler.jsonc')): WranglerConfig {
  const parsed = ts.parseConfigFileTextToJson(file, readFileSync(file, 'utf8'));
  if (parsed.error) throw new Error(`wrangler.jsonc does not parse: ${ts.flattenDiagnosticMessageText(parsed.error.messageText, '\n')}`);
  return parsed.config as WranglerConfig;
}
