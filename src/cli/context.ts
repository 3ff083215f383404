/**
 * What every command needs: where the server is, which key to use, and how
 * to print. Settings come from flags first, then the environment captured
 * by the CLI entry, then the bootstrap key file of a local data dir.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RelayClient } from './client.ts';
import type { Output } from './output.ts';

/** The process surroundings, captured once by `main`. */
export interface CliEnv {
  env: Record<string, string | undefined>;
  cwd: string;
  io: Output;
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface GlobalOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

export interface CliContext extends CliEnv {
  /** The client for the server named by --url / RELAY_URL (key from --key / RELAY_API_KEY / the data dir). */
  client(cmd: Command): RelayClient;
  /** Print `data` as JSON under --json, else the human rendering. */
  emit(cmd: Command, data: unknown, human: () => string): void;
  /** The API key in use, for commands that also send it elsewhere (branch key default). */
  apiKey(cmd: Command): string | undefined;
}

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** The bootstrap key of a data dir next to us, if there is one we can read. */
function localBootstrapKey(env: CliEnv): string | undefined {
  const dataDir = path.resolve(env.cwd, env.env.RELAY_DATA_DIR ?? '.relay');
  try {
    const key = readFileSync(path.join(dataDir, 'bootstrap-key'), 'utf8').trim();
    return key === '' ? undefined : key;
  } catch {
    return undefined;
  }
}

/** Build the per-invocation context. */
export function createCliContext(env: CliEnv): CliContext {
  const apiKey = (cmd: Command) =>
    globals(cmd).key ?? env.env.RELAY_API_KEY ?? localBootstrapKey(env);
  return {
    ...env,
    apiKey,
    client(cmd) {
      const g = globals(cmd);
      const url = g.url ?? env.env.RELAY_URL ?? `http://127.0.0.1:${env.env.PORT ?? '8080'}`;
      const key = apiKey(cmd);
      if (!key) {
        throw new UsageError(
          'no API key: pass --key, set RELAY_API_KEY, or run next to the server data dir (./.relay or RELAY_DATA_DIR)',
        );
      }
      return new RelayClient({ url, key });
    },
    emit(cmd, data, human) {
      env.io.out(globals(cmd).json ? JSON.stringify(data, null, 2) : human());
    },
  };
}
