/**
 * Commands about running functions: invoke, logs (with --follow over the
 * log stream), executions ls and show. `invoke` exits 1 when the execution
 * did not succeed, with one line on stderr naming its status and error, so
 * scripts can branch on it like on any command.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ApiError, ConnectionError } from '../client.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../context.ts';
import { shortTime, table } from '../output.ts';

interface ExecutionRecord {
  id: string;
  status: string;
  output: unknown;
  error: { type: string; message: string } | null;
  rufid: string;
  version: number;
  branch: string;
  timings: { queueMs?: number; prepMs?: number; runMs?: number; totalMs?: number };
  usage: { cpuMs?: number; peakMemoryBytes?: number; coldStart?: boolean };
  cost: number;
  attempt: number;
  maxAttempts: number;
  createdAt: string;
  finishedAt: string | null;
}

interface LogLine {
  seq: number;
  stream: string;
  time: string;
  line: string;
}

/** The execution ended in another status than succeeded (or is still running): exit code 1. */
export class ExecutionNotSucceeded extends Error {
  override name = 'ExecutionNotSucceeded';
}

/** `--input`: JSON text, or `@path` for a file holding JSON. */
async function parseInput(text: string | undefined, cwd: string): Promise<unknown> {
  if (text === undefined) return null;
  let source = text;
  let where = '--input';
  if (text.startsWith('@')) {
    where = text.slice(1);
    try {
      source = await readFile(path.resolve(cwd, where), 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the input file ${where}: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(source);
  } catch (err) {
    throw new UsageError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The error an execution record carries, as one line. */
function failureLine(record: ExecutionRecord): string {
  const why = record.error ? `: ${record.error.type}: ${record.error.message}` : '';
  return `execution ${record.id} ${record.status}${why}`.split('\n')[0]!;
}

/** Outputs print as themselves when they are text, else as JSON. */
function renderOutput(output: unknown): string {
  return typeof output === 'string' ? output : JSON.stringify(output, null, 2);
}

function ms(value: number | undefined): string {
  return value === undefined ? '-' : `${Math.round(value)} ms`;
}

/**
 * One HTTP exchange whose non-2xx answers may still be wanted (an execute
 * that failed answers 502 with the record). Answers outside `accept` turn
 * into ApiError like the shared client's.
 */
async function exchange(
  ctx: CliContext,
  cmd: Command,
  route: string,
  init: { method: string; body?: unknown; headers?: Record<string, string | undefined> },
  accept: (status: number) => boolean,
): Promise<{ status: number; response: Response }> {
  const base = ctx.client(cmd).url;
  const headers: Record<string, string> = { authorization: `Bearer ${ctx.apiKey(cmd) ?? ''}` };
  for (const [k, v] of Object.entries(init.headers ?? {})) if (v !== undefined) headers[k] = v;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${base}/api/v1${route}`, {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ConnectionError(
      `cannot reach Relay at ${base} (${cause?.code ?? cause?.message ?? (err as Error).message}); is \`relay serve\` running?`,
    );
  }
  if (accept(response.status)) return { status: response.status, response };
  const text = await response.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // not JSON: report the status
  }
  throw new ApiError(
    response.status,
    error?.code ?? `HTTP_${response.status}`,
    error?.message ?? (text.slice(0, 200) || response.statusText),
  );
}

/** Reads Server-Sent Events from a response body, calling `onEvent` for each. */
async function readEvents(
  response: Response,
  onEvent: (event: string, data: string) => boolean | void,
): Promise<void> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0 && onEvent(event, data.join('\n')) === true) return;
    }
  }
}

function showRecord(r: ExecutionRecord): string {
  const usage = [
    r.usage.cpuMs === undefined ? undefined : `cpu ${ms(r.usage.cpuMs)}`,
    r.usage.peakMemoryBytes === undefined
      ? undefined
      : `peak memory ${(r.usage.peakMemoryBytes / 1048576).toFixed(1)} MB`,
    r.usage.coldStart === undefined ? undefined : r.usage.coldStart ? 'cold start' : 'warm',
  ].filter(Boolean);
  const t = r.timings;
  const lines = [
    `${r.id}  ${r.status}`,
    `  function  ${r.rufid}@${r.branch} v${r.version} (attempt ${r.attempt} of ${r.maxAttempts})`,
    `  created   ${shortTime(r.createdAt)}   finished ${shortTime(r.finishedAt)}`,
    `  timings   queue ${ms(t.queueMs)}, prep ${ms(t.prepMs)}, run ${ms(t.runMs)}, total ${ms(t.totalMs)}`,
    `  usage     ${usage.length > 0 ? usage.join(', ') : '-'}`,
    `  cost      ${r.cost}`,
  ];
  if (r.error) lines.push(`  error     ${r.error.type}: ${r.error.message}`);
  if (r.status === 'succeeded') lines.push(`  output    ${JSON.stringify(r.output)}`);
  return lines.join('\n');
}

/** Register the execution commands on the program. */
export function registerExecutionCommands(program: Command, ctx: CliContext): void {
  program
    .command('invoke')
    .description(
      'run a function and print its output (--json: the execution record); exit 1 unless it succeeded',
    )
    .argument('<rufid>')
    .option('-b, --branch <branch>', 'branch to run (default main)')
    .option('--branch-key <key>', 'X-Relay-Branch-Key for non-main branches (default: the API key)')
    .option('-i, --input <json>', 'the input as JSON, or @file to read it from a file')
    .option('--async', 'queue the execution and print its id instead of waiting for it')
    .action(
      async (
        rufid: string,
        opts: { branch?: string; branchKey?: string; input?: string; async?: boolean },
        cmd: Command,
      ) => {
        const input = await parseInput(opts.input, ctx.cwd);
        const branch = opts.branch && opts.branch !== 'main' ? opts.branch : undefined;
        const query = new URLSearchParams();
        if (branch) query.set('branch', branch);
        if (opts.async) query.set('async', 'true');
        const { status, response } = await exchange(
          ctx,
          cmd,
          `/functions/${encodeURIComponent(rufid)}/execute${query.size > 0 ? `?${query.toString()}` : ''}`,
          {
            method: 'POST',
            body: { input },
            headers: {
              'x-relay-branch-key': branch ? (opts.branchKey ?? ctx.apiKey(cmd)) : undefined,
            },
          },
          // A finished execution answers with its record whatever its status.
          (code) => [200, 202, 409, 502, 504].includes(code),
        );
        if (opts.async) {
          const queued = (await response.json()) as { id: string; status: string };
          ctx.emit(
            cmd,
            queued,
            () =>
              `${queued.id} ${queued.status}\n  follow it with: relay logs ${queued.id} --follow`,
          );
          return;
        }
        const record = (await response.json()) as ExecutionRecord;
        if (record.status === 'succeeded') {
          ctx.emit(cmd, record, () => renderOutput(record.output));
          return;
        }
        // Scripts still get the record; people get the one line on stderr.
        if (cmd.optsWithGlobals<{ json?: boolean }>().json) ctx.emit(cmd, record, () => '');
        if (status === 202) {
          throw new ExecutionNotSucceeded(
            `execution ${record.id} is still ${record.status}; follow it with \`relay logs ${record.id} --follow\``,
          );
        }
        throw new ExecutionNotSucceeded(failureLine(record));
      },
    );

  program
    .command('logs')
    .description("print an execution's log lines; --follow streams them until it ends")
    .argument('<execution-id>')
    .option('-f, --follow', 'keep printing new lines until the execution ends')
    .action(async (id: string, opts: { follow?: boolean }, cmd: Command) => {
      const json = cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      const print = (line: LogLine) => ctx.io.out(json ? JSON.stringify(line) : line.line);
      const route = `/executions/${encodeURIComponent(id)}/logs`;
      if (!opts.follow) {
        const { lines } = await ctx.client(cmd).request<{ lines: LogLine[] }>('GET', route);
        if (json) ctx.io.out(JSON.stringify(lines, null, 2));
        else for (const line of lines) print(line);
        return;
      }
      const { response } = await exchange(
        ctx,
        cmd,
        `${route}?follow=true`,
        { method: 'GET', headers: { accept: 'text/event-stream' } },
        (code) => code === 200,
      );
      // --json prints one JSON object a line (the stream never ends in a single document).
      await readEvents(response, (event, data) => {
        if (event === 'log') print(JSON.parse(data) as LogLine);
        return event === 'end';
      });
    });

  const executions = program.command('executions').description('list and inspect executions');
  executions
    .command('ls')
    .description("the tenant's executions, newest first")
    .option('--status <status>', 'only executions with this status (e.g. failed, timed_out)')
    .option('--rufid <rufid>', 'only executions of this function')
    .option('-b, --branch <branch>', 'only executions of this branch')
    .option('--limit <n>', 'at most this many', '50')
    .action(
      async (
        opts: { status?: string; rufid?: string; branch?: string; limit: string },
        cmd: Command,
      ) => {
        const { executions: list } = await ctx
          .client(cmd)
          .request<{ executions: ExecutionRecord[] }>('GET', '/executions', {
            query: {
              status: opts.status,
              rufid: opts.rufid,
              branch: opts.branch,
              limit: opts.limit,
            },
          });
        ctx.emit(cmd, list, () =>
          list.length === 0
            ? 'No executions found; run one with `relay invoke <rufid>`.'
            : table(
                ['ID', 'STATUS', 'FUNCTION', 'DURATION', 'CREATED', 'ERROR'],
                list.map((r) => [
                  r.id,
                  r.status,
                  `${r.rufid}@${r.branch} v${r.version}`,
                  ms(r.timings.totalMs),
                  shortTime(r.createdAt),
                  r.error?.type,
                ]),
              ),
        );
      },
    );
  executions
    .command('show')
    .description('one execution: status, output or error, timings and usage')
    .argument('<id>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const record = await ctx
        .client(cmd)
        .request<ExecutionRecord>('GET', `/executions/${encodeURIComponent(id)}`);
      ctx.emit(cmd, record, () => showRecord(record));
    });
}
