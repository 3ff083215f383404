/**
 * Secrets keys: parsing `RELAY_SECRETS_KEY`, the generated key file in the
 * data dir, and the keyring a rotation needs (the current key encrypts;
 * retired keys still decrypt ciphertexts written before or during a
 * rotation, found by the key id stored next to each ciphertext).
 *
 * Files, all owner-only (0600):
 * - `<dataDir>/secrets.key`: the current key, base64, one line. Created once
 *   when no key is configured; never overwritten except by a rotation.
 * - `<dataDir>/secrets.key.retired`: keys replaced by rotations, one a line.
 *   Kept so a process that still held the old key when the rotation ran
 *   (and wrote with it) stays readable; `rotate` re-encrypts such rows.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

export const KEY_BYTES = 32;
export const KEY_FILE = 'secrets.key';
export const RETIRED_KEY_FILE = 'secrets.key.retired';

export class SecretsKeyError extends Error {
  override name = 'SecretsKeyError';
}

export interface SecretsKey {
  /** Short public id stored with each ciphertext; reveals nothing about the key. */
  id: string;
  bytes: Buffer;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
// 32 bytes are 43 base64 characters plus one '=' of padding; url-safe letters accepted too.
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

/** Parse a key given as 64 hex characters or 32 bytes of base64; anything else throws. */
export function parseSecretsKey(text: string, source = 'RELAY_SECRETS_KEY'): SecretsKey {
  const trimmed = text.trim();
  let bytes: Buffer | undefined;
  if (HEX_KEY.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
  else if (BASE64_KEY.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
  if (!bytes || bytes.length !== KEY_BYTES) {
    throw new SecretsKeyError(
      `${source}: expected a 32-byte key as 64 hex characters or 44 base64 characters ` +
        `(for example \`openssl rand -base64 32\`), got ${trimmed.length} characters`,
    );
  }
  return { id: keyIdOf(bytes), bytes };
}

/** A fresh random key. */
export function generateSecretsKey(): SecretsKey {
  const bytes = randomBytes(KEY_BYTES);
  return { id: keyIdOf(bytes), bytes };
}

/** The key as written to files (base64, what `parseSecretsKey` reads back). */
export function encodeKey(key: SecretsKey): string {
  return key.bytes.toString('base64');
}

/** Derived with a label so the id is not a usable hash of the raw key. */
export function keyIdOf(bytes: Buffer): string {
  return createHash('sha256')
    .update('relay-secrets-key-id\0')
    .update(bytes)
    .digest('hex')
    .slice(0, 16);
}

/** Keys by id; `current` encrypts, every key decrypts. */
export class Keyring {
  readonly #keys = new Map<string, SecretsKey>();
  #current: SecretsKey;

  constructor(current: SecretsKey, others: readonly SecretsKey[] = []) {
    this.#current = current;
    for (const key of [current, ...others]) this.#keys.set(key.id, key);
  }

  get current(): SecretsKey {
    return this.#current;
  }

  get(id: string): SecretsKey | undefined {
    return this.#keys.get(id);
  }

  ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Adds a key for decryption only (no-op when known). */
  add(key: SecretsKey): void {
    if (!this.#keys.has(key.id)) this.#keys.set(key.id, key);
  }

  /** Makes `key` current; the previous current key stays for decryption. */
  setCurrent(key: SecretsKey): void {
    this.#keys.set(key.id, key);
    this.#current = key;
  }
}

/** Identity of the key file, to notice another process's rotation cheaply. */
export interface KeyFileStamp {
  ino: number;
  mtimeMs: number;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Rejects a key file that group or others can read: a leaked key exposes every tenant. */
function assertOwnerOnly(file: string): KeyFileStamp {
  const info = statSync(file);
  if ((info.mode & 0o077) !== 0) {
    throw new SecretsKeyError(
      `${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); ` +
        `run \`chmod 600 ${file}\``,
    );
  }
  return { ino: info.ino, mtimeMs: info.mtimeMs };
}

/**
 * Reads the key file, creating it (0600, exclusive create) when absent.
 * Synchronous: it runs once at start-up, so the service can be built
 * without awaiting and a bad key fails start-up immediately.
 */
export function loadOrCreateKeyFile(dataDir: string): { key: SecretsKey; created: boolean } {
  const file = path.join(dataDir, KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  const fresh = generateSecretsKey();
  let fd: number | undefined;
  try {
    // 'wx' = O_CREAT|O_EXCL: two processes starting at once cannot both create a key.
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (fd !== undefined) {
    try {
      writeSync(fd, `${encodeKey(fresh)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    assertOwnerOnly(file);
    return { key: fresh, created: true };
  }
  assertOwnerOnly(file);
  return { key: readKeyFile(file), created: false };
}

/** The key file's current key, or null when there is none. */
export function readKeyFileIfPresent(dataDir: string): SecretsKey | null {
  const file = path.join(dataDir, KEY_FILE);
  try {
    assertOwnerOnly(file);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  return readKeyFile(file);
}

function readKeyFile(file: string): SecretsKey {
  let text = readFileSync(file, 'utf8');
  // A concurrent creator may not have written yet: an empty file is that race, not corruption.
  for (let tries = 0; text.trim() === '' && tries < 20; tries += 1) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    text = readFileSync(file, 'utf8');
  }
  return parseSecretsKey(text, file);
}

/** The stamp of the key file now (null when it does not exist). */
export function keyFileStamp(dataDir: string): KeyFileStamp | null {
  try {
    const info = statSync(path.join(dataDir, KEY_FILE));
    return { ino: info.ino, mtimeMs: info.mtimeMs };
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

/** Retired keys (empty when the file does not exist). */
export function readRetiredKeys(dataDir: string): SecretsKey[] {
  const file = path.join(dataDir, RETIRED_KEY_FILE);
  let text: string;
  try {
    assertOwnerOnly(file);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => parseSecretsKey(line, file));
}

/**
 * Persists a rotation: the old keys join the retired list first, then the
 * key file is replaced atomically, so a crash at any point leaves every key
 * a ciphertext may use on disk.
 */
export function persistRotation(
  dataDir: string,
  oldKeys: readonly SecretsKey[],
  next: SecretsKey,
): void {
  const retired = readRetiredKeys(dataDir);
  const known = new Set(retired.map((k) => k.id));
  const add = oldKeys.filter((k) => k.id !== next.id && !known.has(k.id));
  const all = [...retired.filter((k) => k.id !== next.id), ...add];
  writeAtomic(path.join(dataDir, RETIRED_KEY_FILE), all.map((k) => `${encodeKey(k)}\n`).join(''));
  writeAtomic(path.join(dataDir, KEY_FILE), `${encodeKey(next)}\n`);
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  // The mode argument is filtered by the umask; chmod makes it exact.
  chmodSync(tmp, 0o600);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
