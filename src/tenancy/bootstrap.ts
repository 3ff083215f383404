/**
 * First start of a data dir: tenant `default` and an operator+admin key.
 * The key is RELAY_BOOTSTRAP_API_KEY when set; otherwise generated, and
 * then written to `<dataDir>/bootstrap-key` (owner-only) so the CLI on the
 * same machine can find it.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RelayConfig } from '../config/index.ts';
import type { Tenant } from '../domain/index.ts';
import { generateKey } from './keys.ts';
import type { Tenancy } from './service.ts';

export const DEFAULT_TENANT = 'default';
export const BOOTSTRAP_KEY_FILE = 'bootstrap-key';

export interface BootstrapResult {
  tenant: Tenant;
  /** Set only when a key was generated on this start: show it once. */
  generatedKey: string | null;
  keyFile: string | null;
}

/** Path of the bootstrap key file for a data dir. */
export function bootstrapKeyPath(dataDir: string): string {
  return path.join(dataDir, BOOTSTRAP_KEY_FILE);
}

/** Ensure tenant `default` and the bootstrap key exist; idempotent across restarts. */
export async function bootstrap(
  tenancy: Tenancy,
  config: Readonly<RelayConfig>,
): Promise<BootstrapResult> {
  const existing = await tenancy.getTenantByName(DEFAULT_TENANT);
  const tenant = existing ?? (await tenancy.insertTenant('tn_default', DEFAULT_TENANT));
  const scopes: ['operator', 'admin'] = ['operator', 'admin'];

  if (config.bootstrapApiKey !== undefined) {
    // Also registers a key set later (e.g. a Postgres deployment moving hosts); a revoked one stays revoked.
    if (!(await tenancy.hasKeyFor(config.bootstrapApiKey))) {
      await tenancy.insertKeyWithToken(
        tenant.id,
        { name: 'bootstrap', scopes },
        config.bootstrapApiKey,
      );
    }
    return { tenant, generatedKey: null, keyFile: null };
  }
  // A first start that died between creating the tenant and its key must still end with a key.
  if (existing && (await tenancy.listKeys(tenant.id)).length > 0) {
    return { tenant, generatedKey: null, keyFile: null };
  }

  const token = generateKey().token;
  await tenancy.insertKeyWithToken(tenant.id, { name: 'bootstrap', scopes }, token);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const keyFile = bootstrapKeyPath(config.dataDir);
  await writeFile(keyFile, `${token}\n`, { mode: 0o600 });
  await chmod(keyFile, 0o600); // mode above applies only when the file is new
  return { tenant, generatedKey: token, keyFile };
}
