/**
 * `GET /executions/{id}/logs?follow=true`: the execution's log lines as
 * Server-Sent Events (`event: log`, one JSON line each, `id:` = seq so a
 * client can resume with Last-Event-ID), then `event: end` with the final
 * status. The store is polled, so lines written by a worker in another
 * process arrive the same way as local ones.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isSettled } from '../../engine/retry.ts';
import type { ResultStorePort } from '../../results/port.ts';

const POLL_MS = 200;
const KEEPALIVE_MS = 15_000;

/** Streams until the execution has finished and every line was sent, or the client leaves. */
export async function streamLogs(
  request: FastifyRequest,
  reply: FastifyReply,
  results: ResultStorePort,
  tenantId: string,
  id: string,
  after: number,
): Promise<void> {
  const res = reply.raw;
  const resumeFrom = Number(request.headers['last-event-id']);
  let seq = Number.isInteger(resumeFrom) && resumeFrom > after ? resumeFrom : after;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': request.id,
  });
  let open = true;
  request.raw.once('close', () => {
    open = false;
  });
  let lastWrite = Date.now();
  try {
    while (open) {
      const record = await results.get(tenantId, id);
      const lines = await results.logs(id, seq);
      for (const line of lines) {
        res.write(`id: ${line.seq}\nevent: log\ndata: ${JSON.stringify(line)}\n\n`);
        seq = line.seq;
        lastWrite = Date.now();
      }
      if (!record || isSettled(record)) {
        // Lines are flushed before the status is written, so none can follow a
        // settled one; a failed attempt about to be retried is not settled.
        res.write(
          `event: end\ndata: ${JSON.stringify({ status: record?.status ?? 'unknown' })}\n\n`,
        );
        break;
      }
      if (Date.now() - lastWrite > KEEPALIVE_MS) {
        res.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (err) {
    request.log.warn({ err, execution: id }, 'log stream ended by an error');
  } finally {
    res.end();
  }
}
