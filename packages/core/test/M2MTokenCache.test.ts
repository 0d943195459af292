import { describe, expect, it } from "@effect/vitest"
import type { Context } from "effect"
import {
  Clock,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberId,
  Logger,
  LogLevel,
  Option,
  Redacted,
  Scope,
  Supervisor,
  TestClock
} from "effect"
import type { M2MTokenCacheOptions, M2MTokenRequest } from "../src/index.js"
import { M2MTokenCache, M2MTokens } from "../src/index.js"
import type { FakeTokens, FakeTokensOptions } from "./fakeTokens.js"
import { makeFakeTokens, minutes, nameOf, serverError } from "./fakeTokens.js"

const request: M2MTokenRequest = {
  client_id: "m2m-client-test-1",
  client_secret: Redacted.make("Client-Secret-4821-abc"),
  scopes: ["read:invoices", "write:invoices"]
}

/** A cache over a fake endpoint, in the test's scope. */
const setup = (fake: FakeTokensOptions = {}, options?: M2MTokenCacheOptions) =>
  Effect.gen(function*() {
    const tokens = yield* makeFakeTokens(fake)
    const cache = yield* M2MTokenCache.make(options).pipe(Effect.provideService(M2MTokens, tokens.service))
    return { tokens, cache }
  })

/** `callers` concurrent callers, each answered with the token's name and when it was answered. */
const callers = (cache: M2MTokenCache.Service, count: number, tokenRequest = request) =>
  Effect.forEach(
    Array.from({ length: count }),
    () => Effect.zip(Effect.map(cache.token(tokenRequest), nameOf), Clock.currentTimeMillis),
    { concurrency: "unbounded" }
  )

/** Runs `count` callers at `at` (ms), gives any request the fake's one-second latency, and sums up. */
const row = (cache: M2MTokenCache.Service, tokens: FakeTokens, at: number, count: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(at)
    const fiber = yield* Effect.fork(callers(cache, count))
    yield* TestClock.adjust("1 second")
    const answers = yield* Fiber.join(fiber)
    const served = [...new Set(answers.map(([name]) => name))].join(" ")
    const waited = answers.some(([, answeredAt]) => answeredAt > at)
    return [yield* tokens.requests, served, waited] as const
  })

describe("M2MTokenCache.token", () => {
  // Tokens live an hour; each request answers after one second. The refresh point is 5 minutes
  // before expiry (55:00 after the send), and a token is no longer served 30 s before (59:30).
  it.scoped("serves one token until its refresh point, refreshes it in the background, and waits only when none is valid", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({ latency: "1 second" })
      const table: ReadonlyArray<
        readonly [minute: number, callers: number, requests: number, served: string, waited: boolean]
      > = [
        // A cold cache: one request for all 100 callers, who wait for it.
        [0, 100, 1, "token-1", true],
        [10, 100, 1, "token-1", false],
        [54.9, 100, 1, "token-1", false],
        // The refresh point: one background request; everyone is served the valid token at once.
        [55, 100, 2, "token-1", false],
        // The refresh (sent at 55:00) answered: its token is served, counted from 55:00.
        [56, 100, 2, "token-2", false],
        [109.9, 100, 2, "token-2", false],
        [110, 100, 3, "token-2", false],
        // Token 3 (sent at 110:00) is within its last 30 s: no longer served, callers wait.
        [169.75, 100, 4, "token-4", true],
        // Everything long expired: one request, callers wait.
        [300, 100, 5, "token-5", true]
      ]
      for (const [minute, count, requests, served, waited] of table) {
        expect([minute, ...(yield* row(cache, tokens, minutes(minute), count))]).toEqual([
          minute,
          requests,
          served,
          waited
        ])
      }
    }))

  it.scoped("10,000 concurrent callers on a cold cache cause one request", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({ latency: "1 second" })
      const fiber = yield* Effect.fork(callers(cache, 10_000))
      yield* TestClock.adjust("1 second")
      const answers = yield* Fiber.join(fiber)
      expect(answers).toHaveLength(10_000)
      expect(new Set(answers.map(([name]) => name))).toEqual(new Set(["token-1"]))
      expect(yield* tokens.requests).toBe(1)
    }), 60_000)

  it.scoped("counts a token's life from when its request was sent, not from when the answer came", () =>
    Effect.gen(function*() {
      // The server stamps the token a minute after the send: counted from the answer, the refresh
      // point would be 56:00; counted from the send it is 55:00.
      const { cache, tokens } = yield* setup({ latency: "1 minute" })
      const first = yield* Effect.fork(cache.token(request))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(first)
      yield* TestClock.setTime(minutes(55.5))
      yield* cache.token(request)
      yield* Effect.yieldNow()
      expect(yield* tokens.requests).toBe(2)
    }))

  it.scoped("takes the JWT's exp when it is earlier than expires_in says", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({ expiresIn: 3600, claimedLife: 1800 })
      yield* cache.token(request)
      yield* TestClock.setTime(minutes(24.9))
      yield* cache.token(request)
      expect(yield* tokens.requests).toBe(1)
      yield* TestClock.setTime(minutes(25))
      yield* cache.token(request)
      yield* Effect.yieldNow()
      expect(yield* tokens.requests).toBe(2)
    }))

  it.scoped("keeps a token for its life when the server's clock is hours behind ours, or ahead", () =>
    Effect.gen(function*() {
      for (const serverClockAhead of [-2 * 3600, 2 * 3600]) {
        const { cache, tokens } = yield* setup({ serverClockAhead })
        yield* cache.token(request)
        yield* TestClock.adjust(minutes(54.9))
        for (let call = 0; call < 10; call++) yield* cache.token(request)
        expect(yield* tokens.requests).toBe(1)
      }
    }))

  it.scoped("refreshes a short-lived token at half its life, not on every call", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({ expiresIn: 60 })
      yield* cache.token(request)
      yield* TestClock.setTime(Duration.toMillis("29 seconds"))
      yield* cache.token(request)
      expect(yield* tokens.requests).toBe(1)
      yield* TestClock.setTime(Duration.toMillis("30 seconds"))
      yield* cache.token(request)
      yield* Effect.yieldNow()
      expect(yield* tokens.requests).toBe(2)
    }))
})

describe("M2MTokenCache keys", () => {
  it.scoped("one token per client, scope set and extra parameters", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      const same: ReadonlyArray<M2MTokenRequest> = [
        request,
        { ...request, scopes: ["write:invoices", "read:invoices", "read:invoices"] }
      ]
      for (const asked of same) yield* cache.token(asked)
      expect(yield* tokens.requests).toBe(1)

      const everyScope: ReadonlyArray<M2MTokenRequest> = [
        { ...request, scopes: undefined },
        { ...request, scopes: [] },
        { ...request, scopes: [], extra: {} }
      ]
      for (const asked of everyScope) yield* cache.token(asked)
      expect(yield* tokens.requests).toBe(2)

      yield* cache.token({ ...request, extra: { user_id: "user-1", team: "billing" } })
      yield* cache.token({ ...request, extra: { team: "billing", user_id: "user-1" } })
      expect(yield* tokens.requests).toBe(3)
      yield* cache.token({ ...request, extra: { user_id: "user-2", team: "billing" } })
      yield* cache.token({ ...request, client_id: "m2m-client-test-2" })
      expect(yield* tokens.requests).toBe(5)
    }))

  it.scoped("a request with another secret of the same client gets a token of its own (secret rotation)", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      const current = yield* cache.token(request)
      const next = yield* cache.token({ ...request, client_secret: Redacted.make("Next-Secret-9917-xyz") })
      expect(nameOf(next)).not.toBe(nameOf(current))
      // The same secret in another Redacted is the same key.
      const again = yield* cache.token({ ...request, client_secret: Redacted.make("Client-Secret-4821-abc") })
      expect(nameOf(again)).toBe(nameOf(current))
      expect(yield* tokens.requests).toBe(2)
      // A request object whose secret is replaced is read again, not served its old secret's token.
      const rotating: { -readonly [K in keyof M2MTokenRequest]: M2MTokenRequest[K] } = { ...request }
      expect(nameOf(yield* cache.token(rotating))).toBe(nameOf(current))
      rotating.client_secret = Redacted.make("Next-Secret-9917-xyz")
      expect(nameOf(yield* cache.token(rotating))).toBe(nameOf(next))
    }))

  it.scoped("a request object whose client, scopes or extra parameters are replaced is read again", () =>
    Effect.gen(function*() {
      const { cache } = yield* setup()
      const asked: { -readonly [K in keyof M2MTokenRequest]: M2MTokenRequest[K] } = { ...request }
      const first = yield* cache.token(asked)
      asked.scopes = ["read:invoices"]
      expect((yield* cache.token(asked)).scopes).toEqual(["read:invoices"])
      asked.extra = { user_id: "user-1" }
      const withExtra = yield* cache.token(asked)
      expect(nameOf(withExtra)).not.toBe(nameOf(first))
      asked.client_id = "m2m-client-test-2"
      expect((yield* cache.token(asked)).client_id).toBe("m2m-client-test-2")
    }))

  it.scoped("keeps at most `capacity` keys, evicting the least recently used", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({}, { capacity: 2 })
      const scoped = (scope: string) => ({ ...request, scopes: [scope] })
      yield* cache.token(scoped("a"))
      yield* cache.token(scoped("b"))
      yield* cache.token(scoped("a"))
      // c evicts b, the least recently used; a stays.
      yield* cache.token(scoped("c"))
      expect(yield* tokens.requests).toBe(3)
      yield* cache.token(scoped("a"))
      expect(yield* tokens.requests).toBe(3)
      yield* cache.token(scoped("b"))
      expect(yield* tokens.requests).toBe(4)
    }))

  it.scoped("an invalid request fails with InvalidRequest and asks nothing", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      const error = yield* Effect.flip(cache.token({ ...request, client_secret: Redacted.make("short") }))
      expect(error._tag).toBe("InvalidRequest")
      expect(yield* tokens.requests).toBe(0)
    }))
})

/** Interrupts a fiber the moment it forks its first fiber, from outside it. */
class InterruptOnFirstFork extends Supervisor.AbstractSupervisor<void> {
  private fired = false
  readonly value = Effect.void
  override onStart<A, E, R>(
    _context: Context.Context<R>,
    _effect: Effect.Effect<A, E, R>,
    parent: Option.Option<Fiber.RuntimeFiber<unknown, unknown>>
  ) {
    if (this.fired || Option.isNone(parent)) return
    this.fired = true
    parent.value.unsafeInterruptAsFork(FiberId.none)
  }
}

describe("M2MTokenCache failures", () => {
  it.scoped("a failed request is not cached: the next caller tries again after the backoff", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      yield* tokens.failNext(serverError)
      const exit = yield* Effect.exit(cache.token(request))
      // A typed failure, never a defect.
      expect(exit).toStrictEqual(Exit.fail(serverError))
      const retry = yield* Effect.fork(cache.token(request))
      yield* TestClock.adjust("249 millis")
      expect(yield* tokens.requests).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(nameOf(yield* Fiber.join(retry))).toBe("token-2")
      expect(yield* tokens.sent).toEqual([0, 250])
    }))

  it.scoped("a failed request is the callers' error, not an unhandled error the runtime logs", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => lines.push(String(message)))
      const { cache, tokens } = yield* setup()
      yield* tokens.failNext(serverError)
      const exit = yield* Effect.exit(cache.token(request)).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      expect(exit).toStrictEqual(Exit.fail(serverError))
      expect(lines).toEqual([])
    }))

  it.scoped("the backoff doubles with each failure in a row, up to maxBackoff, and resets on success", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({}, { backoff: "100 millis", maxBackoff: "300 millis" })
      yield* tokens.failNext(serverError, serverError, serverError, serverError)
      // Each caller comes as soon as the previous one failed, and the clock moves 10 ms at a time.
      const attempt = Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.exit(cache.token(request)))
        while (fiber.unsafePoll() === null) yield* TestClock.adjust("10 millis")
        return Exit.isSuccess(yield* Fiber.join(fiber))
      })
      const outcomes = [yield* attempt, yield* attempt, yield* attempt, yield* attempt, yield* attempt]
      expect(outcomes).toEqual([false, false, false, false, true])
      const sent = yield* tokens.sent
      expect(sent.slice(1).map((at, i) => at - sent[i]!)).toEqual([100, 200, 300, 300])
    }))

  it.scoped("a failed background refresh keeps serving the valid token, and is tried again after the backoff", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      yield* cache.token(request)
      yield* TestClock.setTime(minutes(55))
      yield* tokens.failNext(serverError)
      expect(nameOf(yield* cache.token(request))).toBe("token-1")
      yield* Effect.yieldNow()
      expect(yield* tokens.requests).toBe(2)
      // Within the backoff: the valid token, and no request.
      yield* TestClock.adjust("100 millis")
      expect(nameOf(yield* cache.token(request))).toBe("token-1")
      expect(yield* tokens.requests).toBe(2)
      yield* TestClock.adjust("150 millis")
      expect(nameOf(yield* cache.token(request))).toBe("token-1")
      yield* Effect.yieldNow()
      expect(yield* tokens.requests).toBe(3)
      expect(nameOf(yield* cache.token(request))).toBe("token-3")
    }))

  it.scoped("a caller that stops waiting does not stop the request the others wait for", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({ latency: "1 second" })
      const impatient = yield* Effect.fork(cache.token(request))
      const patient = yield* Effect.fork(cache.token(request))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(impatient)
      yield* TestClock.adjust("500 millis")
      expect(nameOf(yield* Fiber.join(patient))).toBe("token-1")
      expect([yield* tokens.requests, yield* tokens.interrupted]).toEqual([1, 0])
    }))

  it.scoped("a caller interrupted just as it starts the request leaves no request for the others to wait on forever", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup({ latency: "1 second" })
      // As a timeout of the caller's firing in that instant would.
      const starter = yield* Effect.fork(Effect.supervised(cache.token(request), new InterruptOnFirstFork()))
      const joiner = yield* Effect.fork(cache.token(request))
      yield* TestClock.adjust("1 second")
      expect(Exit.isInterrupted(yield* Fiber.await(starter))).toBe(true)
      expect(joiner.unsafePoll()).toStrictEqual(Exit.succeed(expect.anything()))
      expect(yield* tokens.requests).toBe(1)
    }))

  it.scoped("closing the cache's scope interrupts a background refresh", () =>
    Effect.gen(function*() {
      const tokens = yield* makeFakeTokens({ latency: "1 minute" })
      const scope = yield* Scope.make()
      const cache = yield* M2MTokenCache.make().pipe(
        Effect.provideService(M2MTokens, tokens.service),
        Scope.extend(scope)
      )
      const first = yield* Effect.fork(cache.token(request))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(first)
      yield* TestClock.setTime(minutes(56))
      yield* cache.token(request)
      yield* Effect.yieldNow()
      expect(yield* tokens.requests).toBe(2)
      yield* Scope.close(scope, Exit.void)
      expect(yield* tokens.interrupted).toBe(1)
    }))
})

describe("M2MTokenCache.invalidate", () => {
  it.scoped("a refused token is dropped: the next caller gets a new one", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      const refused = yield* cache.token(request)
      yield* TestClock.adjust("1 minute")
      yield* cache.invalidate(refused)
      expect(nameOf(yield* cache.token(request))).toBe("token-2")
      // A refusal of a token already replaced drops nothing: many 401s for one token make one request.
      yield* cache.invalidate(refused)
      expect(nameOf(yield* cache.token(request))).toBe("token-2")
      expect(yield* tokens.requests).toBe(2)
    }))

  it.scoped("invalidating a request drops whatever token it has", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      yield* cache.token(request)
      yield* TestClock.adjust("1 minute")
      yield* cache.invalidate({ ...request, scopes: ["write:invoices", "read:invoices"] })
      yield* cache.token(request)
      // Nothing cached under these: nothing to drop, no failure.
      yield* cache.invalidate({ ...request, client_id: "m2m-client-test-unknown" })
      yield* cache.invalidate({ ...request, client_secret: Redacted.make("short") })
      expect(yield* tokens.requests).toBe(2)
    }))

  it.scoped("a downstream that refuses every token gets at most one new token per backoff", () =>
    Effect.gen(function*() {
      const { cache, tokens } = yield* setup()
      const refused = yield* cache.token(request)
      yield* cache.invalidate(refused)
      const next = yield* Effect.fork(cache.token(request))
      yield* TestClock.adjust("250 millis")
      expect(nameOf(yield* Fiber.join(next))).toBe("token-2")
      expect(yield* tokens.sent).toEqual([0, 250])
    }))
})
