/**
 * The canonical package digest: sha256 over a stable serialisation of the
 * manifest (keys sorted at every level) and the sorted list of file paths
 * with their digests. Same package → same digest, whatever the JSON key
 * order or file order it arrived in.
 */
import type { Manifest, PackageEntry } from '../domain/index.ts';
import { sha256 } from './files.ts';

/** JSON with object keys sorted recursively; undefined members dropped as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    const members = keys
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 of the canonical package. */
export function packageDigest(manifest: Manifest, files: readonly PackageEntry[]): string {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const body = canonicalJson({ manifest, files: sorted.map((f) => [f.path, f.digest]) });
  return sha256(`relay-package-v1\n${body}`);
}
