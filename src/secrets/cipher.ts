/**
 * AES-256-GCM for secret values. The tenant id and secret name are bound in
 * as additional authenticated data, so a ciphertext copied to another tenant
 * or renamed in the database fails authentication instead of decrypting.
 *
 * Layout: version byte (1) | IV (12 random bytes, fresh per encryption) |
 * tag (16) | ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretDecryptError extends Error {
  override name = 'SecretDecryptError';
}

/** The associated data: unambiguous even if ids ever contain separators. */
function aad(tenantId: string, name: string): Buffer {
  return Buffer.from(JSON.stringify(['relay-secret', FORMAT_V1, tenantId, name]), 'utf8');
}

/** Encrypts `value` for exactly this tenant and name. */
export function encryptSecret(key: Buffer, tenantId: string, name: string, value: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(tenantId, name));
  const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), body]);
}

/** Decrypts, throwing SecretDecryptError when the bytes, key, tenant or name do not match. */
export function decryptSecret(key: Buffer, tenantId: string, name: string, blob: Buffer): string {
  if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== FORMAT_V1) {
    throw new SecretDecryptError('unrecognised ciphertext format');
  }
  const iv = blob.subarray(1, 1 + IV_BYTES);
  const tag = blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const body = blob.subarray(1 + IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(tenantId, name));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new SecretDecryptError(
      'authentication failed (wrong key, tenant or name, or tampered data)',
      {
        cause: err,
      },
    );
  }
}
