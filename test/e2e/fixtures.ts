/** Packages and helpers shared by the end-to-end tests. */
import { randomBytes } from 'node:crypto';
import type { TestServer } from '../support/server.ts';

/** A unique name, so tests sharing nothing never collide. */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A minimal valid Python package; `tag` changes its content (and digest). */
export function pythonPackage(tag = 'v1'): {
  manifest: Record<string, unknown>;
  files: Record<string, string>;
} {
  return {
    manifest: { runtime: 'python3.11', entrypoint: 'main.handler' },
    files: {
      'main.py': `def handler(event, context):\n    return {"tag": "${tag}", "event": event}\n`,
    },
  };
}

/** Create a tenant through the API; returns its id and admin key. */
export async function newTenant(ts: TestServer): Promise<{ id: string; adminKey: string }> {
  const res = await ts.call('POST', '/api/v1/tenants', { body: { name: unique('t') } });
  if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${res.text}`);
  return { id: String(res.body.id), adminKey: String(res.body.adminKey) };
}

/** Create a function with a Python package; returns its rufid. */
export async function newFunction(ts: TestServer, key: string, tag = 'v1'): Promise<string> {
  const res = await ts.call('POST', '/api/v1/functions', {
    key,
    body: { name: unique('fn'), ...pythonPackage(tag) },
  });
  if (res.status !== 201) throw new Error(`function create failed: ${res.status} ${res.text}`);
  return String(res.body.rufid);
}

/** Deploy a new version to a branch; returns the version number. */
export async function deploy(
  ts: TestServer,
  key: string,
  rufid: string,
  branch: string,
  tag: string,
): Promise<number> {
  const res = await ts.call('POST', `/api/v1/functions/${rufid}/versions?branch=${branch}`, {
    key,
    body: { ...pythonPackage(tag), message: `deploy ${tag}` },
  });
  if (res.status !== 201) throw new Error(`deploy failed: ${res.status} ${res.text}`);
  return Number(res.body.version);
}

/** Create a key in the tenant of `adminKey`; returns the secret. */
export async function newKey(
  ts: TestServer,
  adminKey: string,
  scopes: string[],
  branches?: string[],
): Promise<string> {
  const res = await ts.call('POST', '/api/v1/keys', {
    key: adminKey,
    body: { name: unique('k'), scopes, branches },
  });
  if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${res.text}`);
  return String(res.body.key);
}
