/**
 * Which failures are tried again, how often and how long apart; and that an operation which is not
 * safe to repeat is repeated only when the server certainly did nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import type { M2MClients } from "@stytch-effect/core"
import { DateTime, Duration, Effect, Schedule, TestClock } from "effect"
import type { HttpM2MClients } from "../src/index.js"
import type { Reply } from "./fakeStytch.js"
import { json, ok, runOnTestClock, stytchError, wireClient, withFake } from "./fakeStytch.js"

const html502: Reply = {
  status: 502,
  text: "<html><body>Bad Gateway</body></html>",
  headers: { "content-type": "text/html" }
}

/** Each fault once, then success; or the same fault every time. */
const faults: ReadonlyArray<readonly [string, Reply]> = [
  ["400 invalid scope", stytchError(400, "invalid_m2m_client_scope")],
  ["401 unauthorized", stytchError(401, "unauthorized_credentials")],
  ["404 not found", stytchError(404, "m2m_client_not_found")],
  ["409 duplicate", stytchError(409, "duplicate_m2m_client_id")],
  ["429 rate limited", stytchError(429, "too_many_requests")],
  ["500 internal", stytchError(500, "internal_server_error")],
  ["502 HTML page", html502],
  ["503 unavailable", stytchError(503, "server_unavailable")],
  ["a refused connection", "refuse"],
  ["a dropped connection", "drop"],
  ["no answer (timeout)", "hang"]
]

type Call = (clients: M2MClients.Service) => Effect.Effect<unknown, { readonly _tag: string }>

/** Attempts made with the default policy when every attempt meets the fault. */
const attempts = (call: Call | readonly [Call, Partial<HttpM2MClients.Options>], fault: Reply) => {
  const [run, options] = typeof call === "function" ? [call, {}] : call
  return withFake(() => fault, (clients, fake) =>
    runOnTestClock(Effect.flip(run(clients))).pipe(
      Effect.map((error) => ({ sent: fake.sent.length, error: error as { readonly attempts?: number } }))
    ), options)
}

const get = (c: M2MClients.Service) => c.get({ client_id: "m2m-client-test-1" })
const update = (c: M2MClients.Service) => c.update({ client_id: "m2m-client-test-1", client_name: "x" })
const search = (c: M2MClients.Service) => c.search({})
const createWithId = (c: M2MClients.Service) => c.create({ scopes: [], client_id: "billing-1" })
const createWithoutId = (c: M2MClients.Service) => c.create({ scopes: [] })
/** A create left to the server to name: it cannot be repeated once the server may have acted. */
const createWithServerId = [createWithoutId, { generateClientIds: false }] as const
const del = (c: M2MClients.Service) => c.delete({ client_id: "m2m-client-test-1" })
const rotateStart = (c: M2MClients.Service) => c.secrets.rotateStart({ client_id: "m2m-client-test-1" })
const rotateCancel = (c: M2MClients.Service) => c.secrets.rotateCancel({ client_id: "m2m-client-test-1" })
const rotate = (c: M2MClients.Service) => c.secrets.rotate({ client_id: "m2m-client-test-1" })

describe("attempts per fault (default policy: 3 retries)", () => {
  // Columns: repeatable operations (get, update, search, create with a client_id, the caller's or the
  // layer's); then operations that must not run twice (a create whose id the server chooses, delete,
  // the rotations).
  const table: ReadonlyArray<readonly [string, number, number]> = [
    ["400 invalid scope", 1, 1],
    ["401 unauthorized", 1, 1],
    ["404 not found", 1, 1],
    ["409 duplicate", 1, 1],
    ["429 rate limited", 4, 4],
    ["500 internal", 4, 1],
    ["502 HTML page", 4, 1],
    ["503 unavailable", 4, 1],
    ["a refused connection", 4, 4],
    ["a dropped connection", 4, 1],
    ["no answer (timeout)", 4, 1]
  ]
  it.effect.each(table)(
    "%s: %i attempts when repeatable, %i when not",
    ([name, repeatable, unsafe]) =>
      Effect.gen(function*() {
        const fault = faults.find(([fault]) => fault === name)![1]
        for (const call of [get, update, search, createWithId, createWithoutId]) {
          const { error, sent } = yield* attempts(call, fault)
          expect(sent).toBe(repeatable)
          expect(error.attempts).toBe(repeatable)
        }
        for (const call of [createWithServerId, del, rotateStart, rotateCancel, rotate]) {
          const { error, sent } = yield* attempts(call, fault)
          expect(sent).toBe(unsafe)
          expect(error.attempts).toBe(unsafe)
        }
      })
  )

  it.effect.each(faults.filter(([, fault]) => fault !== "hang"))("%s once, then success", ([, fault]) =>
    withFake(
      (_, n) => n === 1 ? fault : ok({ m2m_client: wireClient() }),
      (clients, fake) =>
        Effect.gen(function*() {
          const result = yield* Effect.either(runOnTestClock(get(clients)))
          const transient = fake.sent.length === 2
          expect(result._tag).toBe(transient ? "Right" : "Left")
        })
    ))

  it.effect("the error says how many attempts were made", () =>
    Effect.gen(function*() {
      const { error } = yield* attempts(get, stytchError(503, "server_unavailable"))
      expect((error as unknown as Error).message).toBe(
        "server_unavailable: server_unavailable happened (HTTP 503, request request-id-test-server_unavailable after 4 attempts)"
      )
    }))
})

/** The gaps between the attempts the fake saw, to the millisecond (jittered delays are fractional). */
const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((time, i) => Math.round(time - times[i]!))

describe("backoff", () => {
  it.effect("doubles from 200 ms with ±20% jitter", () =>
    withFake(() => stytchError(500, "internal_server_error"), (clients, fake) =>
      Effect.gen(function*() {
        yield* Effect.flip(runOnTestClock(get(clients)))
        const [first, second, third] = gaps(fake.sent.map((sent) => sent.at))
        expect(first).toBeGreaterThanOrEqual(160)
        expect(first).toBeLessThanOrEqual(240)
        expect(second).toBeGreaterThanOrEqual(320)
        expect(second).toBeLessThanOrEqual(480)
        expect(third).toBeGreaterThanOrEqual(640)
        expect(third).toBeLessThanOrEqual(960)
      })))

  it.effect("never waits longer than maxDelay", () =>
    withFake(() => stytchError(500, "internal_server_error"), (clients, fake) =>
      Effect.gen(function*() {
        yield* Effect.flip(runOnTestClock(get(clients)))
        const delays = gaps(fake.sent.map((sent) => sent.at))
        expect(delays).toHaveLength(8)
        expect(delays.slice(-3)).toStrictEqual([5000, 5000, 5000])
      }), { retry: { times: 8 } }))

  it.effect("is tuned by the retry options", () =>
    withFake(() => "refuse", (clients, fake) =>
      Effect.gen(function*() {
        yield* Effect.flip(runOnTestClock(get(clients)))
        const delays = gaps(fake.sent.map((sent) => sent.at))
        expect(delays).toHaveLength(2)
        expect(delays[0]).toBeGreaterThanOrEqual(800)
        expect(delays[1]).toBeLessThanOrEqual(1500)
      }), { retry: { times: 2, baseDelay: "1 second", maxDelay: "1.5 seconds" } }))

  it.effect("is off with retry: false", () =>
    Effect.gen(function*() {
      const sent = yield* withFake(
        () => stytchError(503, "server_unavailable"),
        (clients, fake) => Effect.map(Effect.flip(get(clients)), () => fake.sent.length),
        { retry: false }
      )
      expect(sent).toBe(1)
    }))

  it.effect("is replaced by the caller's Schedule, which still cannot repeat an unsafe create", () =>
    Effect.gen(function*() {
      const schedule = Schedule.intersect(Schedule.spaced("1 second"), Schedule.recurs(2))
      const times = yield* withFake(
        () => stytchError(503, "server_unavailable"),
        (clients, fake) =>
          Effect.map(Effect.flip(runOnTestClock(get(clients))), () => fake.sent.map((sent) => sent.at)),
        { retry: schedule }
      )
      expect(times).toStrictEqual([0, 1000, 2000])
      const creates = yield* withFake(
        () => stytchError(503, "server_unavailable"),
        (clients, fake) => Effect.map(Effect.flip(runOnTestClock(createWithoutId(clients))), () => fake.sent.length),
        { retry: schedule, generateClientIds: false }
      )
      expect(creates).toBe(1)
    }))
})

describe("Retry-After", () => {
  const withRetryAfter = (retryAfter: string): Reply =>
    json(429, { status_code: 429, error_type: "too_many_requests", error_message: "slow down" }, {
      "retry-after": retryAfter
    })

  it.effect("in seconds is waited for", () =>
    withFake(
      (_, n) => n === 1 ? withRetryAfter("3") : ok({ m2m_client: wireClient() }),
      (clients, fake) =>
        Effect.gen(function*() {
          yield* runOnTestClock(get(clients))
          expect(gaps(fake.sent.map((sent) => sent.at))).toStrictEqual([3000])
        })
    ))

  it.effect("as an HTTP date is waited for", () =>
    Effect.gen(function*() {
      const now = DateTime.unsafeMake("2025-06-01T12:00:00Z")
      yield* TestClock.setTime(DateTime.toEpochMillis(now))
      const at = DateTime.add(now, { seconds: 4 }).pipe(DateTime.toDateUtc).toUTCString()
      yield* withFake((_, n) => n === 1 ? withRetryAfter(at) : ok({ m2m_client: wireClient() }), (clients, fake) =>
        Effect.gen(function*() {
          yield* runOnTestClock(get(clients))
          expect(gaps(fake.sent.map((sent) =>
            sent.at
          ))).toStrictEqual([4000])
        }))
    }))

  it.effect("shorter than the backoff does not shorten it", () =>
    withFake(
      (_, n) => n === 1 ? withRetryAfter("0") : ok({ m2m_client: wireClient() }),
      (clients, fake) =>
        Effect.gen(function*() {
          yield* runOnTestClock(get(clients))
          expect(gaps(fake.sent.map((sent) => sent.at))[0]).toBeGreaterThanOrEqual(160)
        })
    ))

  it.effect("beyond maxRetryAfter ends the retries and reaches the caller", () =>
    withFake(() => withRetryAfter("60"), (clients, fake) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(runOnTestClock(get(clients)))
        expect(fake.sent).toHaveLength(1)
        expect(error._tag).toBe("RateLimited")
        expect(error._tag === "RateLimited" && error.retry_after_millis).toBe(60_000)
      })))

  it.effect("up to maxRetryAfter is waited for in full", () =>
    withFake(
      (_, n) => n === 1 ? withRetryAfter("60") : ok({ m2m_client: wireClient() }),
      (clients, fake) =>
        Effect.gen(function*() {
          yield* runOnTestClock(get(clients))
          expect(gaps(fake.sent.map((sent) => sent.at))).toStrictEqual([60_000])
        }),
      { retry: { maxRetryAfter: "2 minutes" } }
    ))
})

describe("timeout", () => {
  it.effect("limits each attempt to 30 seconds by default", () =>
    withFake(() => "hang", (clients, fake) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(runOnTestClock(get(clients)))
        expect(error._tag).toBe("TransportError")
        expect(error.message).toBe("M2MClients.get: timeout failure: no answer within 30s after 2 attempts")
        expect(gaps(fake.sent.map((sent) => sent.at))[0]).toBeGreaterThanOrEqual(30_000 + 160)
      }), { retry: { times: 1 } }))

  it.effect("is set by the timeout option", () =>
    withFake(() => "hang", (clients) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(get(clients))
        yield* TestClock.adjust(Duration.millis(999))
        expect(fiber.unsafePoll()).toBeNull()
        yield* TestClock.adjust(Duration.millis(1))
        const error = yield* Effect.flip(fiber)
        expect(error._tag === "TransportError" && error.reason).toBe("Timeout")
      }), { timeout: "1 second", retry: false }))
})
