/**
 * Settings: one zod schema over the environment, parsed once at start,
 * frozen, and handed down. Nothing else in Relay reads `process.env`.
 * A bad value fails start-up with a message that names the variable.
 */
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const positiveInt = z.coerce.number().int().positive();

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  RELAY_DATA_DIR: z.string().default('.relay'),
  RELAY_DATABASE_URL: z.string().optional(),
  RELAY_QUEUE_URL: z.string().optional(),
  RELAY_BOOTSTRAP_API_KEY: z.string().min(16).optional(),
  RELAY_SECRETS_KEY: z.string().optional(),
  RELAY_SECRETS_PREVIOUS_KEYS: z.string().optional(),
  RELAY_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
  EXECUTION_TIMEOUT_SECONDS: z.coerce.number().positive().default(30),
  EXECUTION_MEMORY_LIMIT_MB: positiveInt.default(256),
  EXECUTION_CPUS: z.coerce.number().positive().default(1),
  EXECUTION_CONCURRENCY: positiveInt.default(8),
  SANDBOX_RUNTIME: z.enum(['bwrap', 'process', 'auto']).default('auto'),
  SANDBOX_WARM_IDLE_SECONDS: z.coerce.number().nonnegative().default(300),
  SANDBOX_WARM_MAX: z.coerce.number().int().nonnegative().default(32),
  SANDBOX_PIDS_LIMIT: positiveInt.default(64),
  SANDBOX_TMP_MB: positiveInt.default(64),
  RELAY_PYTHON: z.string().default('/usr/bin/python3'),
  RELAY_MAX_LOG_BYTES: positiveInt.default(1024 * 1024),
  RELAY_MAX_RESULT_BYTES: positiveInt.default(6 * 1024 * 1024),
  RELAY_MAX_INPUT_BYTES: positiveInt.default(6 * 1024 * 1024),
  RELAY_MAX_FILE_BYTES: positiveInt.default(10 * 1024 * 1024),
  RELAY_MAX_PACKAGE_BYTES: positiveInt.default(50 * 1024 * 1024),
  RELAY_RESULT_RETENTION_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 7),
  RELAY_QUEUE_MAX_PER_TENANT: positiveInt.default(10_000),
  RELAY_QUEUE_MAX_TOTAL: positiveInt.default(100_000),
  RELAY_LEASE_SECONDS: positiveInt.default(30),
  RELAY_SHUTDOWN_GRACE_SECONDS: z.coerce.number().nonnegative().default(30),
  RELAY_RETRY_BASE_MS: positiveInt.default(1000),
  RELAY_RETRY_MAX_MS: positiveInt.default(60_000),
  RELAY_DEPS_CACHE_MB: positiveInt.default(4096),
  PIP_INDEX_URL: z.string().optional(),
  PIP_FIND_LINKS: z.string().optional(),
  NPM_CONFIG_REGISTRY: z.string().optional(),
  ENABLE_TELEMETRY_TRACES: bool.default(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
});

type Env = z.infer<typeof schema>;

export interface RelayConfig {
  port: number;
  host: string;
  dataDir: string;
  /** `sqlite:<path>` for the embedded default, else a `postgres://` URL. */
  databaseUrl: string;
  /** Same as the database unless `RELAY_QUEUE_URL` names Redis or Postgres. */
  queueUrl: string;
  bootstrapApiKey: string | undefined;
  secretsKey: string | undefined;
  /** Keys secrets may still be encrypted with during a rotation (comma-separated in the env). */
  secretsPreviousKeys: string[];
  logLevel: Env['RELAY_LOG_LEVEL'];
  execution: {
    timeoutSeconds: number;
    memoryMb: number;
    cpus: number;
    concurrency: number;
    maxLogBytes: number;
    maxResultBytes: number;
    maxInputBytes: number;
    resultRetentionHours: number;
  };
  sandbox: {
    runtime: Env['SANDBOX_RUNTIME'];
    warmIdleSeconds: number;
    warmMax: number;
    pidsLimit: number;
    tmpMb: number;
    python: string;
  };
  packages: { maxFileBytes: number; maxPackageBytes: number };
  queue: { maxPerTenant: number; maxTotal: number; leaseSeconds: number };
  /** Backoff of async retries: full jitter under min(max, base · 2^(attempt-1)). */
  retry: { baseDelayMs: number; maxDelayMs: number };
  /** How long a stopping worker lets running executions finish before handing them back. */
  shutdownGraceSeconds: number;
  deps: {
    cacheMb: number;
    pipIndexUrl: string | undefined;
    pipFindLinks: string | undefined;
    npmRegistry: string | undefined;
  };
  telemetry: { traces: boolean; otlpEndpoint: string | undefined };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parse the environment once; throws ConfigError naming each bad variable. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<RelayConfig> {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid settings: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.RELAY_DATA_DIR);
  const databaseUrl = e.RELAY_DATABASE_URL ?? `sqlite:${path.join(dataDir, 'relay.db')}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(
      'invalid settings: RELAY_DATABASE_URL: expected sqlite:<path> or postgres://...',
    );
  }
  const queueUrl = e.RELAY_QUEUE_URL ?? databaseUrl;
  if (!/^(sqlite:|postgres(ql)?:\/\/|rediss?:\/\/)/.test(queueUrl)) {
    throw new ConfigError(
      'invalid settings: RELAY_QUEUE_URL: expected redis://..., postgres://... or sqlite:<path>',
    );
  }
  return deepFreeze({
    port: e.PORT,
    host: e.HOST,
    dataDir,
    databaseUrl,
    queueUrl,
    bootstrapApiKey: e.RELAY_BOOTSTRAP_API_KEY,
    secretsKey: e.RELAY_SECRETS_KEY,
    secretsPreviousKeys: (e.RELAY_SECRETS_PREVIOUS_KEYS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
    logLevel: e.RELAY_LOG_LEVEL,
    execution: {
      timeoutSeconds: e.EXECUTION_TIMEOUT_SECONDS,
      memoryMb: e.EXECUTION_MEMORY_LIMIT_MB,
      cpus: e.EXECUTION_CPUS,
      concurrency: e.EXECUTION_CONCURRENCY,
      maxLogBytes: e.RELAY_MAX_LOG_BYTES,
      maxResultBytes: e.RELAY_MAX_RESULT_BYTES,
      maxInputBytes: e.RELAY_MAX_INPUT_BYTES,
      resultRetentionHours: e.RELAY_RESULT_RETENTION_HOURS,
    },
    sandbox: {
      runtime: e.SANDBOX_RUNTIME,
      warmIdleSeconds: e.SANDBOX_WARM_IDLE_SECONDS,
      warmMax: e.SANDBOX_WARM_MAX,
      pidsLimit: e.SANDBOX_PIDS_LIMIT,
      tmpMb: e.SANDBOX_TMP_MB,
      python: e.RELAY_PYTHON,
    },
    packages: { maxFileBytes: e.RELAY_MAX_FILE_BYTES, maxPackageBytes: e.RELAY_MAX_PACKAGE_BYTES },
    queue: {
      maxPerTenant: e.RELAY_QUEUE_MAX_PER_TENANT,
      maxTotal: e.RELAY_QUEUE_MAX_TOTAL,
      leaseSeconds: e.RELAY_LEASE_SECONDS,
    },
    retry: { baseDelayMs: e.RELAY_RETRY_BASE_MS, maxDelayMs: e.RELAY_RETRY_MAX_MS },
    shutdownGraceSeconds: e.RELAY_SHUTDOWN_GRACE_SECONDS,
    deps: {
      cacheMb: e.RELAY_DEPS_CACHE_MB,
      pipIndexUrl: e.PIP_INDEX_URL,
      pipFindLinks: e.PIP_FIND_LINKS,
      npmRegistry: e.NPM_CONFIG_REGISTRY,
    },
    telemetry: { traces: e.ENABLE_TELEMETRY_TRACES, otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT },
  });
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const v of Object.values(value)) {
    if (v !== null && typeof v === 'object') deepFreeze(v as object);
  }
  return Object.freeze(value);
}
