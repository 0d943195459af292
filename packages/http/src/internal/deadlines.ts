/**
 * The per-attempt timeout of one service, kept by one watchdog fiber.
 *
 * `Effect.timeoutFail` forks two fibers per attempt (the attempt and a timer), races them and joins the
 * winner's FiberRefs back. In the `get` benchmark's ladder (`packages/bench/results/get.md`) that costs
 * more than the rest of our layer together. Here an attempt forks once, so that it can be interrupted
 * without ending the caller, and puts its deadline in a set that the watchdog reads. The watchdog sleeps
 * on the service's `Clock` (so the `TestClock` drives it in tests) until the oldest deadline (or for a
 * second at most), and interrupts whatever is still running past it.
 *
 * Every attempt of a service has the same timeout and deadlines are read from the clock's monotonic
 * nanoseconds, so deadlines are added in the order they fall due: the set's insertion order is deadline
 * order, and its first entry is always the next to fall due.
 */
import type { FiberId, Scope } from "effect"
import { Cause, Duration, Effect, Exit, Fiber } from "effect"

/** The watchdog's longest sleep: how long it may outlive the last attempt before it waits with no timer. */
const maxSleepMillis = 1_000

interface InFlight {
  readonly deadline: number
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  expired: boolean
}

export interface Deadlines {
  readonly timeout: Duration.Duration
  /**
   * Runs `effect` in a fiber of its own, whose FiberRef changes never reach the caller, interrupting it
   * and failing with `onTimeout()` if it outlives the timeout.
   */
  readonly limit: <A, E, R, E2>(effect: Effect.Effect<A, E, R>, onTimeout: () => E2) => Effect.Effect<A, E | E2, R>
}

/** `effect` in a child fiber, awaited; interrupting the caller interrupts it with it. */
const inFiberOfItsOwn = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.fork(Effect.exit(effect)),
    (fiber) =>
      Effect.flatMap(Fiber.await(fiber), (exit) => Exit.isSuccess(exit) ? exit.value : Effect.failCause(exit.cause))
  )

/**
 * The watchdog lives as long as the scope (the service's layer). Closing the scope interrupts the
 * attempts still in flight, as closing `NodeHttpClient.layerUndici` ends its requests; an attempt made
 * through the service after that falls back to `Effect.timeoutFail`.
 */
export const make = (timeout: Duration.Duration): Effect.Effect<Deadlines, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    // Monotonic: a wall clock stepped back would push every deadline in flight later.
    const nowMillis = () => Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)
    const timeoutMillis = Duration.toMillis(timeout)
    const inFlight = new Set<InFlight>()
    // Open while attempts are in flight; the watchdog waits on it when there are none, with no timer.
    const busy = yield* Effect.makeLatch(false)
    let closed = false

    const expireDue = (watchdog: FiberId.FiberId) => {
      const now = nowMillis()
      for (const attempt of inFlight) {
        if (attempt.deadline > now) return
        inFlight.delete(attempt)
        attempt.expired = true
        attempt.fiber.unsafeInterruptAsFork(watchdog)
      }
    }

    /**
     * The watchdog sleeps until the next deadline, but never longer than `maxSleepMillis`, and an
     * attempt that ends leaves the set without waking it. So no attempt sets or clears a timer of its
     * own: one at a time, each would cost a timer, a forked sleep and its interruption (about 500 µs
     * of CPU per `get`, measured against the emulator as the `get` benchmark runs it). With nothing left in
     * flight, the watchdog waits on the latch with no timer at all, at most `maxSleepMillis` after the
     * last attempt ended, so a runtime nobody disposes does not hold its process open for a timeout.
     */
    const watch = Effect.fiberIdWith((watchdog) => {
      const [next] = inFlight
      if (next === undefined) {
        busy.unsafeClose()
        return busy.await
      }
      return Effect.zipRight(
        Effect.sleep(Math.min(maxSleepMillis, Math.max(0, next.deadline - nowMillis()))),
        Effect.sync(() => expireDue(watchdog))
      )
    })
    yield* Effect.forkScoped(Effect.forever(watch))
    yield* Effect.addFinalizer(() =>
      Effect.fiberIdWith((closing) => {
        closed = true
        const attempts = [...inFlight].map((attempt) => attempt.fiber)
        inFlight.clear()
        // Awaited, so each attempt's request is aborted before the HttpClient's own scope (its
        // connection pool) closes after this one.
        return Fiber.interruptAllAs(attempts, closing)
      })
    )

    const limit = <A, E, R, E2>(effect: Effect.Effect<A, E, R>, onTimeout: () => E2): Effect.Effect<A, E | E2, R> => {
      // `timeoutFail` would hand the caller the FiberRefs of an attempt that ends in time: a fiber of its own keeps them.
      if (closed) return Effect.timeoutFail(inFiberOfItsOwn(effect), { duration: timeout, onTimeout })
      return Effect.uninterruptibleMask((restore) =>
        // The attempt's fiber ends with its exit as a value: a failed attempt is its caller's to handle,
        // not an unhandled error for the runtime to log (at Debug, and as an event on the span). A
        // daemon, as its caller awaits it or interrupts it on every path: the parent's bookkeeping of
        // its children would only repeat that.
        Effect.flatMap(Effect.forkDaemon(restore(Effect.exit(effect))), (fiber) => {
          const attempt: InFlight = { deadline: nowMillis() + timeoutMillis, fiber, expired: false }
          const wait = Effect.suspend(() => {
            // Registered only once the wait starts: a caller interrupted before it leaves nothing behind.
            inFlight.add(attempt)
            busy.unsafeOpen()
            return Fiber.await(fiber)
          })
          // One handler for both outcomes rather than `ensuring` and `onInterrupt`: this runs per attempt.
          return Effect.matchCauseEffect(restore(wait), {
            // Only the caller's interruption ends the wait early: so is the attempt, and with it the request.
            onFailure: (cause) => {
              inFlight.delete(attempt)
              return Effect.zipRight(Fiber.interrupt(fiber), Effect.failCause(cause))
            },
            onSuccess: (exit): Effect.Effect<A, E | E2> => {
              inFlight.delete(attempt)
              return Exit.isSuccess(exit)
                ? exit.value
                : attempt.expired && Cause.isInterruptedOnly(exit.cause)
                ? Effect.failSync(onTimeout)
                : Effect.failCause(exit.cause)
            }
          })
        })
      )
    }

    return { timeout, limit }
  })
