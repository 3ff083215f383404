/** Shared types and the error family. */
export * from './types.ts';
export * from './errors.ts';
export * from './ids.ts';
