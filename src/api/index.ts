/** The HTTP API: app factory, route-module and context types, error mapping. */
export { buildApp, bodyLimitFor, API_PREFIX } from './app.ts';
export { createContext } from './context.ts';
export type {
  AppDeps,
  ApiContext,
  AuthorizedCall,
  RoutePlugin,
  SecretsApi,
  ZodApp,
} from './context.ts';
export { toRelayError, errorBody, sendError } from './errors.ts';
export type { ErrorBody } from './errors.ts';
export * as schemas from './schemas.ts';
