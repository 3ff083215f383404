/** Tenant secrets: encrypted at rest, write-only through the API, redacted from logs. */
export {
  createSecretsService,
  assertSecretName,
  SECRET_NAME_PATTERN,
  MAX_SECRET_BYTES,
} from './service.ts';
export type {
  SecretsService,
  SecretsServiceOptions,
  SecretsStore,
  SecretsLogger,
  SecretSummary,
  RotationResult,
} from './service.ts';
export { redactor, MIN_REDACTED_LENGTH, REDACTED } from './redact.ts';
export {
  parseSecretsKey,
  generateSecretsKey,
  encodeKey,
  SecretsKeyError,
  KEY_FILE,
} from './keys.ts';
