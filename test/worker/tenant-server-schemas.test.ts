import { describe, expect, it } from 'vitest';
import { modernCall, textOf } from './modern-client';
import { adminCall, createKey, createTenant } from './platform-client';

/** A module with one tool `a` whose inputSchema is `schema` (JS source). */
const withSchema = (schema: string) =>
  `export default { tools: { a: { description: 'd', inputSchema: ${schema}, run: () => ({ content: [{ type: 'text', text: 'ran' }] }) } } };`;

/**
 * The platform validates each call's arguments against the tool's inputSchema, compiling patterns
 * and resolving $refs only when a call reaches them: a schema that cannot validate is refused at
 * deploy (400 bad_schema), never a tool that fails every call with an internal error.
 */
describe('deploy checks a tool inputSchema can validate', () => {
  it('refuses broken patterns and $refs that cannot resolve, keeping the running version; accepts the valid forms', async () => {
    const tenant = await createTenant([]);
    const { key } = await createKey(tenant, 'member');
    expect((await adminCall('PUT', `/tenants/${tenant}/servers/schemas`, { module: withSchema("{ type: 'object' }") })).status).toBe(201);
    const refused: Array<[string, RegExp]> = [
      ["{ type: 'object', properties: { x: { type: 'string', pattern: '((' } } }", /#\/properties\/x\/pattern is not a valid regular expression/],
      ["{ type: 'object', patternProperties: { '[': { type: 'string' } } }", /patternProperties key "\[" is not a valid regular expression/],
      ["{ type: 'object', $ref: 'http://example.com/schema.json' }", /"http:\/\/example.com\/schema.json" does not resolve/],
      ["{ type: 'object', properties: { x: { $ref: '#/$defs/missing' } }, $defs: {} }", /"#\/\$defs\/missing" does not resolve/],
      ["{ type: 'object', properties: { x: { $ref: '#nowhere' } } }", /"#nowhere" does not resolve/],
      ["{ type: 'object', items: [{ allOf: [{ $ref: 'other.json#/a' }] }] }", /#\/items\/0\/allOf\/0\/\$ref/],
    ];
    for (const [schema, message] of refused) {
      const res = await adminCall('PUT', `/tenants/${tenant}/servers/schemas`, { module: withSchema(schema) });
      expect(res.status, schema).toBe(400);
      expect(res.body.error.code).toBe('bad_schema');
      expect(res.body.error.message).toMatch(/^tool "a": inputSchema /);
      expect(res.body.error.message).toMatch(message);
    }
    const versions = await adminCall('GET', `/tenants/${tenant}/servers/schemas/versions`);
    expect(versions.body.versions).toHaveLength(1);
    const ran = await modernCall('schemas', key, 'tools/call', { name: 'a', arguments: {} });
    expect(textOf(ran.message)).toBe('ran');

    // Valid forms: local pointers, anchors, recursion to the root; data keywords are not schemas.
    const accepted = [
      "{ type: 'object', properties: { x: { $ref: '#/$defs/s' }, y: { $ref: '#/$defs/a~1b' } }, $defs: { s: { type: 'string', pattern: '^[a-z]+$' }, 'a/b': { type: 'number' } } }",
      "{ type: 'object', properties: { x: { $ref: '#name' } }, $defs: { n: { $anchor: 'name', type: 'string' } } }",
      "{ type: 'object', properties: { child: { $ref: '#' }, pattern: { type: 'string' } } }",
      "{ type: 'object', properties: { x: { enum: [{ pattern: '((' }], default: { $ref: 'nowhere' } } } }",
    ];
    for (const schema of accepted) {
      const res = await adminCall('PUT', `/tenants/${tenant}/servers/schemas`, { module: withSchema(schema) });
      expect(res.status, schema).toBe(201);
    }
  });
});
