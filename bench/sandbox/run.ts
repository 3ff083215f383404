/** `npm run bench -- sandbox`: the sandbox start and invoke benchmark. */
await import('./cold-start.ts');
