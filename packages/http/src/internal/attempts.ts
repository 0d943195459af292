/**
 * The attempt and retry driver that every service of this package sends through (the clients' `send`
 * and the token client): each attempt under the per-attempt deadline, failing with a `TransportError`
 * of reason `Timeout` when it outlives it, and further attempts on the retry policy's schedule, held to
 * `Retry-After`, for as long as the failure is worth another attempt. One driver, so that a fix to the
 * retry rules is a fix for every operation.
 */
import type { AnyApiError, InvalidRequest, MalformedResponse } from "@stytch-effect/core"
import { TransportError } from "@stytch-effect/core"
import { Duration, Effect, Schedule } from "effect"
import type { Deadlines } from "./deadlines.js"

/** The errors a retry schedule is asked about: the failures worth another attempt. */
export type RetriedError = AnyApiError | TransportError

export interface RetryPolicy {
  readonly schedule: Schedule.Schedule<unknown, RetriedError>
  /** A `Retry-After` longer than this is not waited for: the error goes back to the caller. */
  readonly maxRetryAfter: Duration.Duration
}

/** What one failed attempt tells us, besides its error. */
export interface AttemptFailure {
  readonly error: RetriedError | MalformedResponse | InvalidRequest
  /** Another attempt may get a different answer. */
  readonly transient: boolean
  /** The server may have carried the request out although no success came back. */
  readonly mayHaveActed: boolean
  readonly retryAfter?: Duration.Duration | undefined
}

export interface Attempts {
  /**
   * Runs `attempt` (given its number, from 1) under the deadline, and again on the policy's schedule
   * while its failure is transient, `repeatable` allows it and any `Retry-After` is short enough.
   * `onFailure` sees every failed attempt, a timed-out one included.
   */
  readonly run: <A>(
    operation: string,
    attempt: (number: number) => Effect.Effect<A, AttemptFailure>,
    options: {
      readonly repeatable: (failure: AttemptFailure) => boolean
      readonly onFailure?: ((failure: AttemptFailure) => void) | undefined
    }
  ) => Effect.Effect<A, AttemptFailure>
}

export const make = (retry: RetryPolicy | undefined, deadlines: Deadlines): Attempts => {
  const timeoutDescription = `no answer within ${Duration.format(deadlines.timeout)}`

  const schedule = retry === undefined ? undefined : Schedule.intersect(
    Schedule.mapInput(retry.schedule, (failure: AttemptFailure) => failure.error as RetriedError),
    Schedule.identity<AttemptFailure>()
  ).pipe(
    // The server's Retry-After wins over a shorter backoff.
    Schedule.modifyDelay(([, failure], delay) =>
      failure.retryAfter === undefined ? delay : Duration.max(delay, failure.retryAfter)
    )
  )

  const run: Attempts["run"] = (operation, attempt, { onFailure, repeatable }) => {
    const limited = (number: number) =>
      deadlines.limit(attempt(number), (): AttemptFailure => ({
        error: new TransportError({
          operation,
          reason: "Timeout",
          description: timeoutDescription,
          attempts: number
        }),
        transient: true,
        mayHaveActed: true
      }))
    const retried = (failure: AttemptFailure) =>
      retry !== undefined &&
      failure.transient &&
      repeatable(failure) &&
      (failure.retryAfter === undefined || Duration.lessThanOrEqualTo(failure.retryAfter, retry.maxRetryAfter))
    // Most calls succeed first time, so the first attempt's failure is seen in one handler, and the retry
    // machinery is built only after a failure worth another attempt. The schedule then starts from that
    // failure, replayed as its first input, exactly as if it had driven the first attempt too.
    return Effect.catchAll(Effect.suspend(() => limited(1)), (first) => {
      onFailure?.(first)
      if (schedule === undefined || !retried(first)) return Effect.fail(first)
      let attempts = 1
      let replay: AttemptFailure | undefined = first
      const again = Effect.suspend(() => {
        if (replay === undefined) {
          const later = limited(++attempts)
          return onFailure === undefined
            ? later
            : Effect.tapError(later, (failure) => Effect.sync(() => onFailure(failure)))
        }
        const failure = replay
        replay = undefined
        return Effect.fail(failure)
      })
      return Effect.retry(again, { schedule, while: retried })
    })
  }

  return { run }
}
