/**
 * The per-attempt timeout kept by one watchdog fiber: each attempt is held to its own deadline, however
 * many are in flight and whatever finished before it; the caller's interruption reaches the attempt, and
 * so does the closing of the service's scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Ref, Scope, TestClock } from "effect"
import * as Deadlines from "../src/internal/deadlines.js"

const timeout = Duration.seconds(1)

/** Never ends on its own; counts the interruptions that end it. */
const hang = (interruptions: Ref.Ref<number>) =>
  Effect.never.pipe(Effect.onInterrupt(() => Ref.update(interruptions, (n) => n + 1)))

const timedOut = () => "timed out" as const

/** Moves the clock to `fiber`'s deadline, `remaining` from now: it runs until the last millisecond. */
const timesOutIn = (fiber: Fiber.RuntimeFiber<unknown, unknown>, remaining: Duration.Duration) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(Duration.subtract(remaining, Duration.millis(1)))
    expect(fiber.unsafePoll()).toBeNull()
    yield* TestClock.adjust(Duration.millis(1))
    expect(yield* Fiber.await(fiber)).toStrictEqual(Exit.fail("timed out"))
  })

describe("deadlines", () => {
  it.scoped("fails an attempt past its deadline with onTimeout, and interrupts it", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make(timeout)
      const interruptions = yield* Ref.make(0)
      const attempt = yield* Effect.fork(deadlines.limit(hang(interruptions), timedOut))
      yield* timesOutIn(attempt, timeout)
      expect(yield* Ref.get(interruptions)).toBe(1)
    }))

  it.scoped("leaves an attempt that ends in time as it ended", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make(timeout)
      const succeeds = yield* Effect.fork(deadlines.limit(Effect.as(Effect.sleep("999 millis"), "done"), timedOut))
      const fails = yield* Effect.fork(
        deadlines.limit(Effect.zipRight(Effect.sleep("10 millis"), Effect.fail("no")), timedOut)
      )
      yield* TestClock.adjust(Duration.seconds(5))
      expect(yield* Fiber.await(succeeds)).toStrictEqual(Exit.succeed("done"))
      expect(yield* Fiber.await(fails)).toStrictEqual(Exit.fail("no"))
    }))

  it.scoped("holds attempts started at different times each to their own deadline", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make(timeout)
      const interruptions = yield* Ref.make(0)
      const first = yield* Effect.fork(deadlines.limit(hang(interruptions), timedOut))
      yield* TestClock.adjust(Duration.millis(400))
      const second = yield* Effect.fork(deadlines.limit(hang(interruptions), timedOut))
      yield* TestClock.adjust(Duration.millis(600))
      expect(yield* Fiber.await(first)).toStrictEqual(Exit.fail("timed out"))
      yield* timesOutIn(second, Duration.millis(400))
      expect(yield* Ref.get(interruptions)).toBe(2)
    }))

  it.scoped("holds an attempt to its deadline after the watchdog slept for one that ended early", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make(timeout)
      const interruptions = yield* Ref.make(0)
      // The watchdog sleeps until this one's deadline (t = 1000) although it ends at t = 100.
      const early = yield* Effect.fork(deadlines.limit(Effect.sleep("100 millis"), timedOut))
      yield* TestClock.adjust(Duration.millis(200))
      yield* Fiber.join(early)
      const late = yield* Effect.fork(deadlines.limit(hang(interruptions), timedOut))
      yield* timesOutIn(late, timeout)
      expect(yield* Ref.get(interruptions)).toBe(1)
    }))

  it.scoped("holds many attempts in flight at once to their deadlines", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make(timeout)
      const interruptions = yield* Ref.make(0)
      const attempts = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) =>
          Effect.zipLeft(
            Effect.fork(deadlines.limit(i % 2 === 0 ? hang(interruptions) : Effect.sleep("500 millis"), timedOut)),
            TestClock.adjust(Duration.millis(10))
          )
      )
      yield* TestClock.adjust(Duration.seconds(2))
      const exits = yield* Effect.forEach(attempts, Fiber.await)
      expect(exits.filter(Exit.isFailure)).toHaveLength(25)
      expect(yield* Ref.get(interruptions)).toBe(25)
    }))

  it.scoped("interrupts the attempt when its caller is interrupted", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make(timeout)
      const interruptions = yield* Ref.make(0)
      const caller = yield* Effect.fork(deadlines.limit(hang(interruptions), timedOut))
      yield* TestClock.adjust(Duration.millis(10))
      yield* Fiber.interrupt(caller)
      expect(yield* Ref.get(interruptions)).toBe(1)
    }))

  it.effect("interrupts the attempts in flight when its scope closes, and times later ones out all the same", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const deadlines = yield* Scope.extend(Deadlines.make(timeout), scope)
      const interruptions = yield* Ref.make(0)
      const inFlight = yield* Effect.fork(deadlines.limit(hang(interruptions), timedOut))
      yield* TestClock.adjust(Duration.millis(10))
      yield* Scope.close(scope, Exit.void)
      expect(Exit.isInterrupted(yield* Fiber.await(inFlight))).toBe(true)
      expect(yield* Ref.get(interruptions)).toBe(1)
      const later = yield* Effect.fork(deadlines.limit(hang(interruptions), timedOut))
      yield* timesOutIn(later, timeout)
      expect(yield* Ref.get(interruptions)).toBe(2)
    }))
})
