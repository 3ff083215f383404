/**
 * Package files as they arrive over the API: path normalisation (no
 * absolute paths, no `..`, no duplicates), decoding of base64 bodies, size
 * caps, and each file's digest.
 */
import { createHash } from 'node:crypto';
import { RelayError } from '../domain/index.ts';

/** A file as sent: UTF-8 text, or `{base64}` for binary content. */
export type FileBody = string | { base64: string };

export interface PackageFile {
  path: string;
  bytes: Buffer;
  digest: string;
  size: number;
}

export interface FileCaps {
  maxFileBytes: number;
  maxPackageBytes: number;
  maxFiles: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function invalid(message: string): never {
  throw new RelayError('INVALID_PACKAGE', message);
}

/** sha256 hex of some bytes. */
export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The canonical relative form of a package path; throws INVALID_PACKAGE naming the path. */
export function normalisePath(raw: string): string {
  if (raw.length === 0) invalid('files: empty file path');
  if (raw.length > 1024)
    invalid(`files: path '${raw.slice(0, 40)}...' is longer than 1024 characters`);
  if (raw.includes('\0')) invalid(`files: path '${raw}' contains a NUL character`);
  if (raw.includes('\\'))
    invalid(`files: path '${raw}' uses a backslash; use '/' between directories`);
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw))
    invalid(`files: path '${raw}' is absolute; paths must be relative`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) invalid(`files: path '${raw}' contains '..'`);
  if (parts.length === 0) invalid(`files: path '${raw}' names no file`);
  return parts.join('/');
}

function decode(path: string, body: FileBody): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  const b64 = body.base64.replace(/\s+/g, '');
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) invalid(`files: '${path}' is not valid base64`);
  return Buffer.from(b64, 'base64');
}

/** Decode, normalise and check every file; sorted by path. */
export function readFiles(files: Record<string, FileBody>, caps: FileCaps): PackageFile[] {
  const entries = Object.entries(files);
  if (entries.length === 0) invalid('files: the package has no files');
  if (entries.length > caps.maxFiles)
    invalid(`files: ${entries.length} files; the cap is ${caps.maxFiles}`);
  const byPath = new Map<string, { raw: string; file: PackageFile }>();
  let total = 0;
  for (const [raw, body] of entries) {
    const path = normalisePath(raw);
    const seen = byPath.get(path);
    if (seen) invalid(`files: '${raw}' and '${seen.raw}' are the same path '${path}'`);
    const bytes = decode(path, body);
    if (bytes.length > caps.maxFileBytes) {
      throw new RelayError(
        'PAYLOAD_TOO_LARGE',
        `files: '${path}' is ${bytes.length} bytes; the cap per file is ${caps.maxFileBytes}`,
      );
    }
    total += bytes.length;
    if (total > caps.maxPackageBytes) {
      throw new RelayError(
        'PAYLOAD_TOO_LARGE',
        `files: the package exceeds the cap of ${caps.maxPackageBytes} bytes`,
      );
    }
    byPath.set(path, { raw, file: { path, bytes, digest: sha256(bytes), size: bytes.length } });
  }
  // A path cannot be both a file and a directory once written to disk.
  for (const path of byPath.keys()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (byPath.has(dir))
        invalid(`files: '${dir}' is a file but '${path}' uses it as a directory`);
    }
  }
  return [...byPath.values()]
    .map((v) => v.file)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
