import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { upstreamCircuitOpen } from '../errors.js';

export const CIRCUIT_STATUSES = ['closed', 'open', 'half_open'] as const;
export type CircuitStatus = (typeof CIRCUIT_STATUSES)[number];

export interface CircuitSettings {
  /** Consecutive outages that open the breaker. */
  failures: number;
  cooldownMs: number;
}

export interface UpstreamBreaker {
  /** Runs `call` with the caller's signal, or refuses it with our 503 while the breaker is open. */
  execute<T>(alias: string, call: (signal: AbortSignal | undefined) => Promise<T>, signal: AbortSignal | undefined): Promise<T>;
  readonly status: CircuitStatus;
}

/**
 * Whether a failure (in the SDK's error classes, which both upstream clients throw, after retries) says the upstream is unhealthy:
 * it could not be reached, did not answer in time, failed, or kept rate-limiting. A 4xx is its
 * verdict on our request or key, and our own abort says nothing about it.
 */
export function isUpstreamOutage(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (error instanceof APIError) return error.status !== undefined && (error.status >= 500 || error.status === 429 || error.status === 408);
  return false;
}

/**
 * cockatiel closes a half-open breaker on any error it does not handle, as if the upstream had
 * answered; a probe cancelled by its caller said nothing, so it counts as a failed probe instead.
 */
class CancelledProbe extends Error {}

export function createUpstreamBreaker({ failures, cooldownMs }: CircuitSettings): UpstreamBreaker {
  const policy = circuitBreaker(handleWhen((error) => isUpstreamOutage(error) || error instanceof CancelledProbe), {
    halfOpenAfter: cooldownMs,
    breaker: new ConsecutiveBreaker(failures),
  });
  let openedAt = 0;
  policy.onBreak(() => {
    openedAt = Date.now();
  });
  const coolingDown = () => Date.now() - openedAt < cooldownMs;

  return {
    get status() {
      if (policy.state === CircuitState.Closed) return 'closed';
      // Once the cool-down is over, the next call goes through as the probe.
      if (policy.state === CircuitState.HalfOpen || (policy.state === CircuitState.Open && !coolingDown())) return 'half_open';
      return 'open';
    },

    // The caller's signal goes to the call itself rather than to cockatiel, which runs the calls that
    // waited for a probe without any signal.
    async execute(alias, call, signal) {
      const probe = policy.state === CircuitState.Open && !coolingDown();
      try {
        return await policy.execute(async () => {
          try {
            return await call(signal);
          } catch (error) {
            throw probe && error instanceof APIUserAbortError ? new CancelledProbe('probe cancelled', { cause: error }) : error;
          }
        });
      } catch (error) {
        if (error instanceof CancelledProbe) throw error.cause;
        if (error instanceof BrokenCircuitError) {
          throw upstreamCircuitOpen(alias, failures, cooldownMs, Math.max(1, Math.ceil((openedAt + cooldownMs - Date.now()) / 1000)));
        }
        throw error;
      }
    },
  };
}
