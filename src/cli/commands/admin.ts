/** Commands about access and configuration: keys, tenants, secrets. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { UsageError } from '../context.ts';
import { shortTime, table } from '../output.ts';

interface KeyInfo {
  id: string;
  name: string;
  scopes: string[];
  branches: string[] | null;
  createdAt: string;
  revokedAt: string | null;
}

function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Read all of stdin (for secret values not given on the command line). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Register keys, tenants and secrets commands. */
export function registerAdminCommands(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description("manage the tenant's API keys (admin)");
  keys
    .command('create')
    .description('create a key; its secret is printed once')
    .argument('<name>')
    .requiredOption('-s, --scopes <scopes>', 'comma-separated: admin, deploy, invoke, branch')
    .option('--branches <branches>', 'comma-separated branches a branch key may run (default: all)')
    .action(async (name: string, opts: { scopes: string; branches?: string }, cmd: Command) => {
      const scopes = list(opts.scopes) ?? [];
      if (scopes.length === 0) throw new UsageError('--scopes needs at least one scope');
      const created = await ctx.client(cmd).request<KeyInfo & { key: string }>('POST', '/keys', {
        body: { name, scopes, branches: list(opts.branches) },
      });
      ctx.emit(cmd, created, () =>
        [
          `Created key ${created.id} (${created.scopes.join(',')}). Keep it now, it is not shown again:`,
          '',
          `  ${created.key}`,
        ].join('\n'),
      );
    });
  keys
    .command('ls')
    .description("list the tenant's keys")
    .action(async (_opts: unknown, cmd: Command) => {
      const { keys: all } = await ctx.client(cmd).request<{ keys: KeyInfo[] }>('GET', '/keys');
      ctx.emit(cmd, all, () =>
        table(
          ['ID', 'NAME', 'SCOPES', 'BRANCHES', 'CREATED', 'REVOKED'],
          all.map((k) => [
            k.id,
            k.name,
            k.scopes.join(','),
            k.branches?.join(',') ?? '*',
            shortTime(k.createdAt),
            shortTime(k.revokedAt),
          ]),
        ),
      );
    });
  keys
    .command('revoke')
    .description('revoke a key')
    .argument('<id>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await ctx.client(cmd).request('DELETE', `/keys/${encodeURIComponent(id)}`);
      ctx.emit(cmd, { id, revoked: true }, () => `Revoked ${id}`);
    });

  const tenants = program.command('tenants').description('manage tenants (operator)');
  tenants
    .command('create')
    .description('create a tenant; prints its first admin key once')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const t = await ctx
        .client(cmd)
        .request<{ id: string; name: string; adminKey: string }>('POST', '/tenants', {
          body: { name },
        });
      ctx.emit(cmd, t, () =>
        [
          `Created tenant ${t.name} (${t.id}). Its admin key, shown once:`,
          '',
          `  ${t.adminKey}`,
        ].join('\n'),
      );
    });
  tenants
    .command('ls')
    .description('list tenants')
    .action(async (_opts: unknown, cmd: Command) => {
      const { tenants: all } = await ctx
        .client(cmd)
        .request<{ tenants: { id: string; name: string; createdAt: string }[] }>('GET', '/tenants');
      ctx.emit(cmd, all, () =>
        table(
          ['ID', 'NAME', 'CREATED'],
          all.map((t) => [t.id, t.name, shortTime(t.createdAt)]),
        ),
      );
    });

  const secrets = program
    .command('secrets')
    .description("manage the tenant's secrets (values are write-only)");
  secrets
    .command('set')
    .description('set a secret; the value comes from the argument or, if omitted, stdin')
    .argument('<name>')
    .argument('[value]')
    .action(async (name: string, value: string | undefined, _opts: unknown, cmd: Command) => {
      const v = value ?? (await readStdin());
      await ctx
        .client(cmd)
        .request('PUT', `/secrets/${encodeURIComponent(name)}`, { body: { value: v } });
      ctx.emit(cmd, { name, set: true }, () => `Set secret ${name}`);
    });
  secrets
    .command('ls')
    .description('list secret names')
    .action(async (_opts: unknown, cmd: Command) => {
      const { secrets: all } = await ctx
        .client(cmd)
        .request<{ secrets: { name: string; createdAt: string; updatedAt: string }[] }>(
          'GET',
          '/secrets',
        );
      ctx.emit(cmd, all, () =>
        table(
          ['NAME', 'CREATED', 'UPDATED'],
          all.map((s) => [s.name, shortTime(s.createdAt), shortTime(s.updatedAt)]),
        ),
      );
    });
  secrets
    .command('rm')
    .description('delete a secret')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await ctx.client(cmd).request('DELETE', `/secrets/${encodeURIComponent(name)}`);
      ctx.emit(cmd, { name, deleted: true }, () => `Deleted secret ${name}`);
    });
  secrets
    .command('rotate-key')
    .description(
      'operator, on the server machine: re-encrypt every secret with a new key (generated unless --new-key); reads the database named by the settings',
    )
    .option('--new-key <key>', '32 bytes as base64 or 64 hex characters')
    .action(async (opts: { newKey?: string }, cmd: Command) => {
      const { loadConfig } = await import('../../config/index.ts');
      const { buildGraph } = await import('../../main.ts');
      const { encodeKey, generateSecretsKey } = await import('../../secrets/index.ts');
      const config = loadConfig(ctx.env);
      const graph = await buildGraph(config);
      try {
        const newKey = opts.newKey ?? encodeKey(generateSecretsKey());
        const result = await graph.secrets.rotate(newKey);
        const fromEnv = config.secretsKey !== undefined;
        ctx.emit(cmd, { ...result, keyFile: !fromEnv }, () =>
          [
            `Re-encrypted ${result.reEncrypted} secrets with key ${result.keyId}.`,
            fromEnv
              ? `Set RELAY_SECRETS_KEY to the new key and RELAY_SECRETS_PREVIOUS_KEYS to the old one on every Relay process, then restart them.${opts.newKey ? '' : `\nNew key (shown once): ${newKey}`}`
              : `The key file in ${config.dataDir} now holds the new key; the old one is kept as retired.`,
          ].join('\n'),
        );
      } finally {
        await graph.store.close();
      }
    });
}
