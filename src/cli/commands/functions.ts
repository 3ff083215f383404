/** Commands about functions: deploy, functions, versions, branch, promote, resolve. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { UsageError } from '../context.ts';
import { shortDigest, shortTime, table } from '../output.ts';
import { packDirectory } from '../pack.ts';

interface BranchHead {
  branch: string;
  version: number;
  updatedAt: string;
}
interface FunctionInfo {
  rufid: string;
  name: string;
  createdAt: string;
  branches: BranchHead[];
}
interface VersionInfo {
  version: number;
  digest: string;
  branch: string;
  size: number;
  message: string;
  deployedBy: string;
  createdAt: string;
  manifest: { runtime: string };
  build: { status: string };
}
interface DeployResult {
  rufid: string;
  version: number;
  branch: string;
  digest: string;
}

function parseVersion(text: string): number {
  const n = Number(text.replace(/^v/, ''));
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`'${text}' is not a version number`);
  return n;
}

function heads(fn: FunctionInfo): string {
  return fn.branches.map((b) => `${b.branch}@v${b.version}`).join(' ');
}

/** The deploy itself worked but its dependency build did not: exit 1 with the installer's lines. */
export class BuildFailedError extends Error {
  override name = 'BuildFailedError';
}

interface BuildInfo {
  status: string;
  log: string;
}

/** Polls the version's build state until it leaves `pending`, showing progress on stderr. */
async function waitForBuild(
  ctx: CliContext,
  cmd: Command,
  rufid: string,
  version: number,
  timeoutSeconds: number,
): Promise<BuildInfo> {
  const client = ctx.client(cmd);
  const started = Date.now();
  let shown = '';
  for (;;) {
    const v = await client.request<{ build: BuildInfo }>(
      'GET',
      `/functions/${rufid}/versions/${version}`,
    );
    if (v.build.status !== 'pending') return v.build;
    const elapsed = Math.round((Date.now() - started) / 1000);
    if (elapsed > timeoutSeconds) {
      throw new BuildFailedError(
        `dependencies of v${version} still installing after ${timeoutSeconds}s; check later with \`relay versions ${rufid}\``,
      );
    }
    const line = v.build.log.split('\n').filter(Boolean).at(-1) ?? 'installing dependencies';
    if (line !== shown || elapsed % 10 === 0) {
      ctx.io.err(`  building v${version} (${elapsed}s): ${line}`);
      shown = line;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Register the function commands on the program. */
export function registerFunctionCommands(program: Command, ctx: CliContext): void {
  program
    .command('deploy')
    .description('deploy the function in <dir> (relay.json + files); creates it on first deploy')
    .argument('<dir>', 'directory holding relay.json')
    .option('-b, --branch <branch>', 'branch to deploy to', 'main')
    .option('-m, --message <message>', 'note stored with the version')
    .option('--name <name>', 'function name (default: relay.json "name", then the directory name)')
    .option('--rufid <rufid>', 'deploy to this function instead of finding it by name')
    .option('--no-wait', 'return at once instead of waiting for dependencies to be installed')
    .option('--wait-timeout <seconds>', 'longest wait for the dependency build', '900')
    .action(
      async (
        dir: string,
        opts: {
          branch: string;
          message?: string;
          name?: string;
          rufid?: string;
          wait: boolean;
          waitTimeout: string;
        },
        cmd: Command,
      ) => {
        const client = ctx.client(cmd);
        const pkg = await packDirectory(dir);
        const name = opts.name ?? pkg.name;
        const body = { manifest: pkg.manifest, files: pkg.files, message: opts.message };
        let rufid = opts.rufid;
        if (!rufid) {
          const { functions } = await client.request<{ functions: FunctionInfo[] }>(
            'GET',
            '/functions',
          );
          rufid = functions.find((f) => f.name === name)?.rufid;
        }
        let result: DeployResult & { created: boolean; name: string };
        if (rufid) {
          const r = await client.request<DeployResult>('POST', `/functions/${rufid}/versions`, {
            body,
            query: { branch: opts.branch },
          });
          result = { ...r, created: false, name };
        } else {
          // A new function always starts on main; another branch then points at that first version.
          const r = await client.request<DeployResult>('POST', '/functions', {
            body: { ...body, name },
          });
          if (opts.branch !== 'main') {
            await client.request(
              'PUT',
              `/functions/${r.rufid}/branches/${encodeURIComponent(opts.branch)}`,
              {
                body: { version: r.version },
              },
            );
          }
          result = { ...r, branch: opts.branch, created: true, name };
        }
        const build = opts.wait
          ? await waitForBuild(ctx, cmd, result.rufid, result.version, Number(opts.waitTimeout))
          : null;
        ctx.emit(cmd, { ...result, ...(build ? { build } : {}) }, () =>
          [
            `${result.created ? 'Created' : 'Deployed'} ${name} v${result.version} to ${result.branch}`,
            `  rufid   ${result.rufid}`,
            `  digest  ${result.digest}`,
            `  files   ${Object.keys(pkg.files).length} (${pkg.bytes} bytes)`,
            ...(build ? [`  build   ${build.status}`] : []),
          ].join('\n'),
        );
        if (build?.status === 'failed') {
          throw new BuildFailedError(
            `dependencies of v${result.version} failed to install:\n${build.log}`,
          );
        }
      },
    );

  const functions = program.command('functions').description('list and inspect functions');
  functions
    .command('ls')
    .description("list the tenant's functions and their branch heads")
    .action(async (_opts: unknown, cmd: Command) => {
      const { functions: list } = await ctx
        .client(cmd)
        .request<{ functions: FunctionInfo[] }>('GET', '/functions');
      ctx.emit(cmd, list, () =>
        list.length === 0
          ? 'No functions yet; deploy one with `relay deploy <dir>`.'
          : table(
              ['RUFID', 'NAME', 'BRANCHES', 'CREATED'],
              list.map((f) => [f.rufid, f.name, heads(f), shortTime(f.createdAt)]),
            ),
      );
    });
  functions
    .command('show')
    .description('one function and its branches')
    .argument('<rufid>')
    .action(async (rufid: string, _opts: unknown, cmd: Command) => {
      const fn = await ctx.client(cmd).request<FunctionInfo>('GET', `/functions/${rufid}`);
      ctx.emit(cmd, fn, () =>
        [
          `${fn.name} (${fn.rufid}), created ${shortTime(fn.createdAt)}`,
          table(
            ['BRANCH', 'VERSION', 'UPDATED'],
            fn.branches.map((b) => [b.branch, b.version, shortTime(b.updatedAt)]),
          ),
        ].join('\n'),
      );
    });

  program
    .command('versions')
    .description('the version ledger of a function, newest first')
    .argument('<rufid>')
    .action(async (rufid: string, _opts: unknown, cmd: Command) => {
      const { versions } = await ctx
        .client(cmd)
        .request<{ versions: VersionInfo[] }>('GET', `/functions/${rufid}/versions`);
      ctx.emit(cmd, versions, () =>
        table(
          ['VERSION', 'BRANCH', 'RUNTIME', 'DIGEST', 'SIZE', 'BUILD', 'CREATED', 'MESSAGE'],
          versions.map((v) => [
            v.version,
            v.branch,
            v.manifest.runtime,
            shortDigest(v.digest),
            v.size,
            v.build.status,
            shortTime(v.createdAt),
            v.message,
          ]),
        ),
      );
    });

  const branch = program.command('branch').description('move or delete branch heads');
  branch
    .command('set')
    .description('point <branch> at <version> (promote, roll back)')
    .argument('<rufid>')
    .argument('<branch>')
    .argument('<version>')
    .action(async (rufid: string, name: string, version: string, _opts: unknown, cmd: Command) => {
      const head = await ctx
        .client(cmd)
        .request<BranchHead & { previousVersion: number | null }>(
          'PUT',
          `/functions/${rufid}/branches/${encodeURIComponent(name)}`,
          {
            body: { version: parseVersion(version) },
          },
        );
      ctx.emit(
        cmd,
        head,
        () =>
          `${head.branch}: ${head.previousVersion === null ? 'new' : `v${head.previousVersion}`} → v${head.version}`,
      );
    });
  branch
    .command('rm')
    .description('delete a branch (not main)')
    .argument('<rufid>')
    .argument('<branch>')
    .action(async (rufid: string, name: string, _opts: unknown, cmd: Command) => {
      await ctx
        .client(cmd)
        .request('DELETE', `/functions/${rufid}/branches/${encodeURIComponent(name)}`);
      ctx.emit(cmd, { rufid, branch: name, deleted: true }, () => `Deleted branch ${name}`);
    });

  program
    .command('promote')
    .description("point --to (default main) at --from's current version")
    .argument('<rufid>')
    .requiredOption('--from <branch>', 'branch whose head to promote')
    .option('--to <branch>', 'branch to move', 'main')
    .action(async (rufid: string, opts: { from: string; to: string }, cmd: Command) => {
      const client = ctx.client(cmd);
      const fn = await client.request<FunctionInfo>('GET', `/functions/${rufid}`);
      const from = fn.branches.find((b) => b.branch === opts.from);
      if (!from)
        throw new UsageError(
          `${rufid} has no branch '${opts.from}' (branches: ${fn.branches.map((b) => b.branch).join(', ')})`,
        );
      const head = await client.request<BranchHead & { previousVersion: number | null }>(
        'PUT',
        `/functions/${rufid}/branches/${encodeURIComponent(opts.to)}`,
        { body: { version: from.version } },
      );
      ctx.emit(
        cmd,
        { ...head, from: opts.from },
        () =>
          `Promoted ${opts.from}@v${from.version} to ${head.branch} (was ${head.previousVersion === null ? 'unset' : `v${head.previousVersion}`})`,
      );
    });

  program
    .command('resolve')
    .description('which version a call would run')
    .argument('<rufid>')
    .option('-b, --branch <branch>', 'branch (default main)')
    .option('--branch-key <key>', 'X-Relay-Branch-Key for non-main branches (default: the API key)')
    .action(async (rufid: string, opts: { branch?: string; branchKey?: string }, cmd: Command) => {
      const branchKey =
        opts.branch && opts.branch !== 'main' ? (opts.branchKey ?? ctx.apiKey(cmd)) : undefined;
      const r = await ctx.client(cmd).request<{
        rufid: string;
        branch: string;
        version: number;
        runtime: string;
        digest: string;
      }>('POST', `/functions/${rufid}/resolve`, {
        query: { branch: opts.branch },
        headers: { 'x-relay-branch-key': branchKey },
      });
      ctx.emit(
        cmd,
        r,
        () => `${r.rufid}@${r.branch} → v${r.version} (${r.runtime}, ${shortDigest(r.digest)})`,
      );
    });
}
