/**
 * The secrets service: tenant-scoped, write-only secret values encrypted
 * at rest. The store only ever sees ciphertext and a key id; values leave
 * this module only through `resolve` (for a sandbox's environment).
 */
import type { ControlStore, StoredSecret } from '../store/port.ts';
import { RelayError } from '../domain/index.ts';
import { SecretDecryptError, decryptSecret, encryptSecret } from './cipher.ts';
import {
  Keyring,
  SecretsKeyError,
  keyFileStamp,
  loadOrCreateKeyFile,
  parseSecretsKey,
  persistRotation,
  readKeyFileIfPresent,
  readRetiredKeys,
} from './keys.ts';
import type { KeyFileStamp, SecretsKey } from './keys.ts';
import { redactor } from './redact.ts';

/** Secret names become environment variable names inside the sandbox. */
export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;
export const MAX_SECRET_BYTES = 64 * 1024;

/** pino-compatible: the two levels this module uses. */
export interface SecretsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type SecretsStore = Pick<
  ControlStore,
  'putSecret' | 'listSecrets' | 'getSecrets' | 'deleteSecret' | 'listTenants'
>;

export interface SecretsServiceOptions {
  store: SecretsStore;
  dataDir: string;
  /** RELAY_SECRETS_KEY; when unset the key lives in `<dataDir>/secrets.key`. */
  secretsKey?: string | undefined;
  /** Older keys still accepted for decryption (a rotation with env-configured keys). */
  previousKeys?: readonly string[];
  logger?: SecretsLogger;
}

export interface SecretSummary {
  name: string;
  createdAt: string;
  updatedAt: string;
}

export interface RotationResult {
  /** Id of the key every secret is now encrypted with. */
  keyId: string;
  reEncrypted: number;
}

export interface SecretsService {
  /** Id of the current encryption key (not secret). */
  readonly keyId: string;
  /** Creates or replaces a secret. */
  put(tenantId: string, name: string, value: string): Promise<SecretSummary>;
  /** Names and times only, sorted by name; never values. */
  list(tenantId: string): Promise<SecretSummary[]>;
  /** False when there was no such secret. */
  remove(tenantId: string, name: string): Promise<boolean>;
  /** Decrypted values by name; throws SECRET_NOT_FOUND naming every missing one. */
  resolve(tenantId: string, names: readonly string[]): Promise<Record<string, string>>;
  /** Deploy-time check that every name exists, without decrypting anything. */
  assertExist(tenantId: string, names: readonly string[]): Promise<void>;
  /** Re-encrypts every secret of every tenant under `newKey` (hex or base64, 32 bytes). */
  rotate(newKey: string): Promise<RotationResult>;
  /** A function replacing occurrences of `values` in a log line with `***`. */
  redactor(values: readonly string[]): (line: string) => string;
}

/** Validates a name; the message never includes a value. */
export function assertSecretName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 140)) : typeof name;
    throw new RelayError(
      'VALIDATION_FAILED',
      `invalid secret name ${shown}: use A-Z, 0-9 and _, not starting with a digit, at most 128 characters`,
    );
  }
}

function assertSecretValue(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new RelayError('VALIDATION_FAILED', `secret ${name}: the value must be a string`);
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_SECRET_BYTES) {
    throw new RelayError(
      'VALIDATION_FAILED',
      `secret ${name}: the value is ${bytes} bytes, the limit is ${MAX_SECRET_BYTES}`,
    );
  }
  // Values become environment variables, which cannot hold NUL.
  if (value.includes('\0')) {
    throw new RelayError(
      'VALIDATION_FAILED',
      `secret ${name}: the value must not contain NUL characters`,
    );
  }
}

function summary(secret: StoredSecret): SecretSummary {
  return { name: secret.name, createdAt: secret.createdAt, updatedAt: secret.updatedAt };
}

function unique(names: readonly string[]): string[] {
  for (const name of names) assertSecretName(name);
  return [...new Set(names)];
}

/** Builds the service; a bad RELAY_SECRETS_KEY or an unsafe key file throws here, at start-up. */
export function createSecretsService(options: SecretsServiceOptions): SecretsService {
  const { store, dataDir, logger } = options;
  const fromFile = options.secretsKey === undefined || options.secretsKey === '';
  let keyring: Keyring;
  let stamp: KeyFileStamp | null = null;

  try {
    keyring = loadKeyring();
  } catch (err) {
    if (err instanceof SecretsKeyError) throw new RelayError('VALIDATION_FAILED', err.message);
    throw err;
  }

  function loadKeyring(): Keyring {
    const previous = (options.previousKeys ?? []).map((k) =>
      parseSecretsKey(k, 'previous secrets key'),
    );
    const retired = readRetiredKeys(dataDir);
    if (fromFile) {
      const { key, created } = loadOrCreateKeyFile(dataDir);
      stamp = keyFileStamp(dataDir);
      if (created) logger?.info({ keyId: key.id }, `generated a secrets key in ${dataDir}`);
      return new Keyring(key, [...retired, ...previous]);
    }
    const current = parseSecretsKey(options.secretsKey ?? '');
    // A key file from before RELAY_SECRETS_KEY was set stays readable, so `rotate` can migrate.
    const fileKey = readKeyFileIfPresent(dataDir);
    return new Keyring(current, [...(fileKey ? [fileKey] : []), ...retired, ...previous]);
  }

  /** Another process may have rotated the file key; adopt it before encrypting. */
  function refreshIfRotated(): void {
    if (!fromFile) return;
    const now = keyFileStamp(dataDir);
    // A key file deleted under a running server is an operator error: keep the key we have.
    if (!now || (stamp && now.ino === stamp.ino && now.mtimeMs === stamp.mtimeMs)) return;
    const reloaded = loadKeyring();
    for (const id of keyring.ids()) {
      const key = keyring.get(id);
      if (key) reloaded.add(key);
    }
    keyring = reloaded;
  }

  function keyFor(secret: StoredSecret): SecretsKey | undefined {
    let key = keyring.get(secret.keyId);
    if (!key) {
      refreshIfRotated();
      key = keyring.get(secret.keyId);
    }
    return key;
  }

  function decrypt(secret: StoredSecret): string {
    const key = keyFor(secret);
    if (!key) {
      throw new RelayError(
        'INTERNAL',
        `secret ${secret.name} is encrypted with key ${secret.keyId}, which this server does not have`,
      );
    }
    try {
      return decryptSecret(key.bytes, secret.tenantId, secret.name, secret.ciphertext);
    } catch (err) {
      if (!(err instanceof SecretDecryptError)) throw err;
      throw new RelayError(
        'INTERNAL',
        `secret ${secret.name} could not be decrypted: ${err.message}`,
      );
    }
  }

  // Writes and rotation run one at a time in this process, so a rotation never
  // re-encrypts a stale value over a put that raced it.
  let writes: Promise<unknown> = Promise.resolve();
  function serialised<T>(step: () => Promise<T>): Promise<T> {
    const next = writes.then(step, step);
    writes = next.catch(() => undefined);
    return next;
  }

  async function missing(tenantId: string, names: string[]): Promise<StoredSecret[]> {
    if (names.length === 0) return [];
    const found = await store.getSecrets(tenantId, names);
    const have = new Set(found.map((s) => s.name));
    const absent = names.filter((n) => !have.has(n));
    if (absent.length > 0) {
      throw new RelayError(
        'SECRET_NOT_FOUND',
        `secret${absent.length > 1 ? 's' : ''} not found: ${absent.join(', ')}`,
      );
    }
    return found;
  }

  return {
    get keyId() {
      return keyring.current.id;
    },

    async put(tenantId, name, value) {
      assertSecretName(name);
      assertSecretValue(name, value);
      return serialised(async () => {
        refreshIfRotated();
        const key = keyring.current;
        const ciphertext = encryptSecret(key.bytes, tenantId, name, value);
        return summary(await store.putSecret({ tenantId, name, ciphertext, keyId: key.id }));
      });
    },

    async list(tenantId) {
      const all = await store.listSecrets(tenantId);
      return all.map(summary).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async remove(tenantId, name) {
      assertSecretName(name);
      return serialised(() => store.deleteSecret(tenantId, name));
    },

    async resolve(tenantId, names) {
      const found = await missing(tenantId, unique(names));
      const values: Record<string, string> = {};
      for (const secret of found) values[secret.name] = decrypt(secret);
      return values;
    },

    async assertExist(tenantId, names) {
      await missing(tenantId, unique(names));
    },

    async rotate(newKey) {
      let next: SecretsKey;
      try {
        next = parseSecretsKey(newKey, 'new secrets key');
      } catch (err) {
        if (err instanceof SecretsKeyError) throw new RelayError('VALIDATION_FAILED', err.message);
        throw err;
      }
      return serialised(async () => {
        refreshIfRotated();
        const old = keyring.ids().flatMap((id) => keyring.get(id) ?? []);
        if (fromFile) {
          persistRotation(dataDir, old, next);
          stamp = keyFileStamp(dataDir);
        }
        keyring.setCurrent(next);
        let reEncrypted = 0;
        const unreadable: string[] = [];
        for (const tenant of await store.listTenants()) {
          for (const secret of await store.listSecrets(tenant.id)) {
            if (secret.keyId === next.id) continue;
            let value: string;
            try {
              value = decrypt(secret);
            } catch {
              unreadable.push(`${tenant.id}/${secret.name}`);
              continue;
            }
            const ciphertext = encryptSecret(next.bytes, tenant.id, secret.name, value);
            await store.putSecret({
              tenantId: tenant.id,
              name: secret.name,
              ciphertext,
              keyId: next.id,
            });
            reEncrypted += 1;
          }
        }
        logger?.info({ keyId: next.id, reEncrypted }, 'secrets key rotated');
        if (!fromFile) {
          logger?.warn(
            { keyId: next.id },
            'set RELAY_SECRETS_KEY to the new key on every process; until they restart, give them the old one as a previous key',
          );
        }
        if (unreadable.length > 0) {
          throw new RelayError(
            'INTERNAL',
            `rotation re-encrypted ${reEncrypted} secrets but could not decrypt: ${unreadable.join(', ')}`,
          );
        }
        return { keyId: next.id, reEncrypted };
      });
    },

    redactor,
  };
}
