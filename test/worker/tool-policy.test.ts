import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/hosted/principal';
import { denyReason, minRoleFor } from '../../src/hosted/tool-policy';

const as = (role: Principal['role']): Principal => ({ tenantId: 't', userId: 'u', role, clientId: 'c', kind: 'oauth', server: 's' });

describe('tool policy from the tool definition', () => {
  it('derives the least role from readOnlyHint, and lets authors require a role explicitly', () => {
    expect(minRoleFor({ annotations: { readOnlyHint: true } })).toBe('read-only');
    expect(minRoleFor({ annotations: { readOnlyHint: false } })).toBe('member');
    expect(minRoleFor({})).toBe('member');
    expect(minRoleFor({ annotations: { readOnlyHint: true }, _meta: { 'smcp/minRole': 'admin' } })).toBe('admin');
    expect(minRoleFor({ _meta: { 'smcp/minRole': 'superuser' } })).toBe('member'); // unknown values fall back, never open up
  });

  it('explains each refusal and allows what the role covers', () => {
    const adminOnly = { _meta: { 'smcp/minRole': 'admin' } };
    expect(denyReason(as('member'), 'purge', adminOnly)).toBe('Permission denied: tool "purge" requires role "admin", caller has "member"');
    expect(denyReason(as('admin'), 'purge', adminOnly)).toBeNull();
    expect(denyReason(as('read-only'), 'write', {})).toContain('may only call tools annotated readOnlyHint');
    expect(denyReason(as('read-only'), 'read', { annotations: { readOnlyHint: true } })).toBeNull();
  });
});
