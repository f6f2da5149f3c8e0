// What domain code may import from the platform: errors, store failures and
// small rules, with no transport or driver behind them.
export { type Actor, callerId, canonicalId, type ServiceActor, type UserActor } from './actor.ts';
export { DomainError, ErrorKind, type FieldViolation, throwIfInvalid, violation } from './errors.ts';
export { type RaceRetryOptions, retryOnRace } from './retry-on-race.ts';
export { StoreFailure } from './store-failure.ts';
