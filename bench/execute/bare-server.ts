/** The warm-call floor: a Fastify server whose one route parses the body and answers at once. */
import fastify from 'fastify';

const app = fastify({ logger: false });
app.post('/noop', async (request) => ({
  ok: true,
  echo: (request.body as { input?: unknown } | undefined)?.input ?? null,
}));
app.get('/noop', async () => ({ ok: true }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
