/**
 * API key material: the `rk_<keyid>_<secret>` format, generation, and the
 * hash we keep instead of the secret. Verification compares hashes in
 * constant time so response timing says nothing about how close a guess was.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY_PATTERN = /^rk_(key_[0-9a-f]{16})_([0-9a-f]{48})$/;

/** A key as presented by a client: which record to load and what to check against it. */
export interface ParsedKey {
  id: string;
  secret: string;
}

/** A freshly generated key: the id to store and the full token shown to the user once. */
export interface GeneratedKey {
  id: string;
  token: string;
  secretHash: string;
}

/** Generate a new key; the token is the only copy of the secret. */
export function generateKey(): GeneratedKey {
  const id = `key_${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(24).toString('hex');
  return { id, token: `rk_${id}_${secret}`, secretHash: hashSecret(secret) };
}

/**
 * Split a presented token into record id and secret. Tokens not in Relay's
 * format (an operator-chosen RELAY_BOOTSTRAP_API_KEY) get an id derived
 * from their hash, so they are still found with one lookup by id.
 */
export function parseKey(token: string): ParsedKey {
  const m = KEY_PATTERN.exec(token);
  if (m) return { id: m[1]!, secret: m[2]! };
  const derived = createHash('sha256').update(`relay-key-id:${token}`).digest('hex').slice(0, 16);
  return { id: `key_${derived}`, secret: token };
}

/** The stored form of a secret: sha256, hex. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time check of a presented secret against a stored hash. */
export function verifySecret(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  // Both are sha256 digests, so lengths only differ for a corrupt record.
  if (presented.length !== stored.length) return false;
  return timingSafeEqual(presented, stored);
}

/** Whether a string looks like a key in Relay's own format (used for friendlier errors). */
export function isRelayKeyFormat(token: string): boolean {
  return KEY_PATTERN.test(token);
}
