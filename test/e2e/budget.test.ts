import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { startTestServer } from '../support/server.ts';

test('a tenant over its monthly budget is refused with 429 BUDGET_EXCEEDED until the budget is raised', async () => {
  const srv = await startTestServer({}, { execution: true });
  try {
    const created = await srv.call('POST', '/api/v1/tenants', {
      body: { name: 'thrifty', limits: { monthlyBudget: 1 } },
    });
    assert.equal(created.status, 201);
    const { id, adminKey } = created.body as { id: string; adminKey: string };
    const manifest = JSON.parse(await readFile('examples/python-echo/relay.json', 'utf8'));
    const main = await readFile('examples/python-echo/main.py', 'utf8');
    const deployed = await srv.call('POST', '/api/v1/functions', {
      key: adminKey,
      body: { name: 'echo', manifest, files: { 'main.py': main } },
    });
    assert.equal(deployed.status, 201);
    const execute = () =>
      srv.call('POST', `/api/v1/functions/${deployed.body.rufid}/execute`, {
        key: adminKey,
        body: { input: 1 },
      });

    assert.equal((await execute()).status, 200);
    // A budget just above what was spent admits one more call (each costs at least the 2e-7 fee), then refuses.
    const spent = (await srv.call('GET', '/api/v1/usage', { key: adminKey })).body.spend as number;
    assert.ok(spent > 0);
    const budget = spent + 1e-9;
    const lowered = await srv.call('PATCH', `/api/v1/tenants/${id}`, {
      body: { limits: { monthlyBudget: budget } },
    });
    assert.equal(lowered.status, 200);
    assert.equal((await execute()).status, 200);
    const refused = await execute();
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'BUDGET_EXCEEDED');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);

    const usage = await srv.call('GET', '/api/v1/usage', { key: adminKey });
    assert.equal(usage.status, 200);
    assert.equal(usage.body.budget, budget);
    assert.ok(usage.body.spend >= budget);
    assert.equal(usage.body.remaining, 0);

    // Only the operator may raise it; then calls run again.
    const denied = await srv.call('PATCH', `/api/v1/tenants/${id}`, {
      key: adminKey,
      body: { limits: { monthlyBudget: null } },
    });
    assert.equal(denied.status, 403);
    const raised = await srv.call('PATCH', `/api/v1/tenants/${id}`, {
      body: { limits: { monthlyBudget: null } },
    });
    assert.equal(raised.status, 200);
    assert.equal(raised.body.limits.monthlyBudget, null);
    assert.equal(raised.body.limits.maxPriority, created.body.limits.maxPriority);
    await new Promise((r) => setTimeout(r, 1100)); // the worker re-reads tenant caps at most once a second
    assert.equal((await execute()).status, 200);
  } finally {
    await srv.close();
  }
});
