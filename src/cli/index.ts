/**
 * The `relay` command. This is the CLI's entry: it alone reads the process
 * environment and hands the values down. Exit codes: 0 success, 1 server
 * or other failure, 2 usage (bad flags, missing key, bad settings).
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.ts';
import { ApiError, ConnectionError } from './client.ts';
import { registerAdminCommands } from './commands/admin.ts';
import { registerExecutionCommands } from './commands/executions.ts';
import { BuildFailedError, registerFunctionCommands } from './commands/functions.ts';
import { registerProcessCommands } from './commands/processes.ts';
import { UsageError, createCliContext, type CliEnv } from './context.ts';
import { PackError } from './pack.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Build the command tree (exported for tests that inspect it). */
export function buildProgram(env: CliEnv): Command {
  const ctx = createCliContext(env);
  const program = new Command('relay')
    .description('Relay: deploy, branch and run functions')
    .option('--url <url>', 'server URL (default: RELAY_URL, then http://127.0.0.1:$PORT or :8080)')
    .option('--key <key>', 'API key (default: RELAY_API_KEY, then <data dir>/bootstrap-key)')
    .option('--json', 'print JSON for scripts')
    .exitOverride()
    .showHelpAfterError('(run `relay --help` for usage)')
    .configureOutput({
      writeOut: (s) => env.io.out(s.trimEnd()),
      writeErr: (s) => env.io.err(s.trimEnd()),
    });

  registerProcessCommands(program, env);

  registerFunctionCommands(program, ctx);
  registerExecutionCommands(program, ctx);
  registerAdminCommands(program, ctx);
  for (const cmd of program.commands) inherit(cmd);
  return program;
}

/** Subcommands share the program's error handling and output. */
function inherit(cmd: Command): void {
  cmd.exitOverride().showHelpAfterError(false);
  for (const sub of cmd.commands) inherit(sub);
}

/** Map a failure to its one-line message and exit code. */
export function describeFailure(err: unknown): { message: string; code: number } {
  if (err instanceof CommanderError)
    return { message: '', code: err.exitCode === 0 ? EXIT_OK : EXIT_USAGE };
  if (err instanceof UsageError || err instanceof ConfigError)
    return { message: err.message, code: EXIT_USAGE };
  if (err instanceof ApiError)
    return { message: `${err.code}: ${err.message}`, code: EXIT_FAILURE };
  if (err instanceof ConnectionError || err instanceof PackError || err instanceof BuildFailedError)
    return { message: err.message, code: EXIT_FAILURE };
  const e = err as { code?: string; message?: string };
  if (e?.code === 'EADDRINUSE')
    return { message: `port already in use (${e.message ?? ''})`, code: EXIT_FAILURE };
  return { message: e?.message ?? String(err), code: EXIT_FAILURE };
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(
  argv: string[],
  env: CliEnv = {
    env: process.env,
    cwd: process.cwd(),
    io: { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) },
  },
): Promise<number> {
  const program = buildProgram(env);
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    const { message, code } = describeFailure(err);
    if (message) env.io.err(`relay: ${message}`);
    return code;
  }
}
