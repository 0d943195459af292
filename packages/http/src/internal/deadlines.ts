/**
 * The per-attempt timeout of one service, kept by one watchdog fiber.
 *
 * `Effect.timeoutFail` forks a timer fiber beside every attempt, races the two and joins the winner's
 * FiberRefs back: in the `get` benchmark that was the largest cost our layer added to a call (see
 * `packages/bench/results/get.md`). Here an attempt forks once, so that it can be interrupted without
 * ending the caller, and puts its deadline in a set that the watchdog reads. The watchdog sleeps on the
 * service's `Clock` (so the `TestClock` drives it in tests) until the oldest deadline, and interrupts
 * whatever is still running past it.
 *
 * Every attempt of a service has the same timeout, so deadlines are added in the order they fall due:
 * the set's insertion order is deadline order, and its first entry is always the next to fall due.
 */
import type { Scope } from "effect"
import { Duration, Effect, Exit, Fiber, FiberId } from "effect"

interface InFlight {
  readonly deadline: number
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  expired: boolean
}

export interface Deadlines {
  readonly timeout: Duration.Duration
  /** Runs `effect`, interrupting it and failing with `onTimeout()` if it outlives the timeout. */
  readonly limit: <A, E, R, E2>(effect: Effect.Effect<A, E, R>, onTimeout: () => E2) => Effect.Effect<A, E | E2, R>
}

/** The watchdog lives as long as the scope: the service's layer. */
export const make = (timeout: Duration.Duration): Effect.Effect<Deadlines, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const timeoutMillis = Duration.toMillis(timeout)
    const inFlight = new Set<InFlight>()
    // Open while attempts are in flight; the watchdog waits on it when there are none, with no timer.
    const busy = yield* Effect.makeLatch(false)

    const expireDue = (now: number) => {
      for (const attempt of inFlight) {
        if (attempt.deadline > now) return
        inFlight.delete(attempt)
        attempt.expired = true
        attempt.fiber.unsafeInterruptAsFork(FiberId.none)
      }
    }

    const watch = Effect.suspend(() => {
      const [next] = inFlight
      if (next === undefined) {
        busy.unsafeClose()
        return busy.await
      }
      // A completed attempt leaves the set, but the sleep for it runs out all the same: cheaper than
      // waking the watchdog on every completion, and it ends with the scope.
      return Effect.zipRight(
        Effect.sleep(Math.max(0, next.deadline - clock.unsafeCurrentTimeMillis())),
        Effect.sync(() => expireDue(clock.unsafeCurrentTimeMillis()))
      )
    })
    yield* Effect.forkScoped(Effect.forever(watch))

    const limit = <A, E, R, E2>(effect: Effect.Effect<A, E, R>, onTimeout: () => E2) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.fork(restore(effect)), (fiber) => {
          const attempt: InFlight = { deadline: clock.unsafeCurrentTimeMillis() + timeoutMillis, fiber, expired: false }
          inFlight.add(attempt)
          busy.unsafeOpen()
          return restore(Effect.async<A, E | E2>((resume) => {
            fiber.addObserver((exit) => {
              inFlight.delete(attempt)
              resume(attempt.expired && Exit.isInterrupted(exit) ? Effect.fail(onTimeout()) : exit)
            })
            // The caller was interrupted: so is the attempt, and with it the request.
            return Fiber.interrupt(fiber)
          }))
        })
      )

    return { timeout, limit }
  })
