/**
 * `npm run bench -- <name>`: runs bench/<name>/run.ts (execute, queue,
 * deps, sandbox) in a child process; with no name, lists them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(here, d.name, 'run.ts')))
  .map((d) => d.name);
const names = process.argv.slice(2);
if (names.length === 0) {
  console.log(`benchmarks: ${available.join(', ')}\nrun one with: npm run bench -- <name>`);
  process.exit(0);
}
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`no benchmark named ${name}; available: ${available.join(', ')}`);
    process.exit(2);
  }
  const r = spawnSync(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', path.join(here, name, 'run.ts')],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
}
