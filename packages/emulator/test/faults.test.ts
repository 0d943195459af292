/**
 * Fault injection: off by default, set per route or for all, changed while the emulator runs, and
 * decided by the `random` it is given, so each case here is deterministic.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Random } from "effect"
import { Emulator } from "../src/index.js"
import { attempt, expectError, provideEmulator, seedClient, send, snapshot } from "./support.js"

const create = (client_id: string) => send("POST", "/v1/m2m/clients", { json: { client_id, scopes: ["a"] } })

describe("faults", () => {
  it.live("are off by default", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      expect(yield* emulator.faults.plan).toEqual({})
      const answers = yield* Effect.forEach(["a", "b", "c"], create)
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200])
    }).pipe(provideEmulator()))

  it.live.each(
    [
      { status: 500, errorType: "internal_server_error" },
      { status: 503, errorType: "server_unavailable" }
    ] as const
  )(
    "fail: answers $status $errorType before the operation runs, changing nothing",
    ({ errorType, status }) =>
      Effect.gen(function*() {
        const emulator = yield* Emulator
        yield* emulator.faults.set({ all: { fail: { share: 1, status } } })
        expectError(yield* create("never-made"), status, errorType)
        expect(yield* snapshot).toEqual([])
      }).pipe(provideEmulator())
  )

  it.live("fail: a share of requests, chosen by the random source", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.set({ routes: { get: { fail: { share: 0.5 } } } })
      yield* seedClient("c")
      const statuses = yield* Effect.forEach([1, 2, 3, 4, 5], () =>
        Effect.map(send("GET", "/v1/m2m/clients/c"), (a) => a.status))
      expect(statuses).toEqual([500, 200, 500, 200, 200])
    }).pipe(provideEmulator({ random: Random.fixed([0.1, 0.7, 0.49, 0.5, 0.99]) })))

  it.live("apply per route: a route's own faults leave the others alone, and override `all` field by field", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.set({
        all: { fail: { share: 1, status: 503 } },
        routes: { create: { fail: { share: 0 } } }
      })
      expect((yield* create("made")).status).toBe(200)
      expectError(yield* send("GET", "/v1/m2m/clients/made"), 503, "server_unavailable")
      yield* emulator.faults.setRoute("get", { fail: { share: 0 } })
      expect((yield* send("GET", "/v1/m2m/clients/made")).status).toBe(200)
      expectError(yield* send("DELETE", "/v1/m2m/clients/made"), 503, "server_unavailable")
    }).pipe(provideEmulator()))

  it.live("change while the emulator runs, and clear", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("create", { fail: { share: 1 } })
      expect((yield* create("a")).status).toBe(500)
      yield* emulator.faults.clear
      expect((yield* create("a")).status).toBe(200)
      expect(yield* emulator.faults.plan).toEqual({})
    }).pipe(provideEmulator()))

  it.live("can be set from the start", () =>
    Effect.gen(function*() {
      expect((yield* create("a")).status).toBe(503)
    }).pipe(provideEmulator({ faults: { routes: { create: { fail: { share: 1, status: 503 } } } } })))

  it.live("latency: holds every answer on the route for at least the given time", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("get", { latency: Duration.millis(150) })
      const started = yield* Clock.currentTimeMillis
      const answer = yield* send("GET", "/v1/m2m/clients/nobody")
      const elapsed = (yield* Clock.currentTimeMillis) - started
      expectError(answer, 404, "m2m_client_not_found")
      expect(elapsed).toBeGreaterThanOrEqual(150)
      const quick = yield* Clock.currentTimeMillis
      yield* send("DELETE", "/v1/m2m/clients/nobody")
      expect((yield* Clock.currentTimeMillis) - quick).toBeLessThan(150)
    }).pipe(provideEmulator()))

  it.live("drop: closes the connection with no answer, before the operation runs", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("create", { drop: { share: 1 } })
      const outcome = yield* Effect.either(attempt("POST", "/v1/m2m/clients", { json: { client_id: "a", scopes: [] } }))
      expect(outcome._tag === "Left" && outcome.left.reason).toBe("Transport")
      expect(yield* snapshot).toEqual([])
      // The server is unharmed: the next request on another route is served.
      expect((yield* send("GET", "/v1/m2m/clients/a")).status).toBe(404)
    }).pipe(provideEmulator()))

  it.live("drop after commit: the change is kept, the caller never hears of it", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("create", { drop: { share: 1, afterCommit: true } })
      const outcome = yield* Effect.either(attempt("POST", "/v1/m2m/clients", { json: { client_id: "a", scopes: [] } }))
      expect(outcome._tag).toBe("Left")
      expect((yield* snapshot).map((client) => client.client_id)).toEqual(["a"])
    }).pipe(provideEmulator()))

  it.live("commitThenFail: the change is applied, the answer is a 5XX, and a retry meets the change", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("create", { commitThenFail: { share: 1, status: 503 } })
      expectError(yield* create("once"), 503, "server_unavailable")
      expect((yield* snapshot).map((client) => client.client_id)).toEqual(["once"])
      yield* emulator.faults.clear
      expectError(yield* create("once"), 409, "duplicate_m2m_client_id")
    }).pipe(provideEmulator()))

  it.live("commitThenFail: an operation that fails on its own answers its own error", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("get", { commitThenFail: { share: 1 } })
      expectError(yield* send("GET", "/v1/m2m/clients/nobody"), 404, "m2m_client_not_found")
    }).pipe(provideEmulator()))

  it.live("one draw per request decides among drop, fail and commitThenFail, in that order", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("create", {
        drop: { share: 0.2 },
        fail: { share: 0.2, status: 503 },
        commitThenFail: { share: 0.2 }
      })
      const outcomes = yield* Effect.forEach(
        ["d", "f", "c", "s"],
        (client_id) =>
          attempt("POST", "/v1/m2m/clients", { json: { client_id, scopes: [] } }).pipe(
            Effect.match({ onFailure: () => "dropped", onSuccess: (answer) => answer.status })
          )
      )
      expect(outcomes).toEqual(["dropped", 503, 500, 200])
      // Only the commit-then-fail and the served request changed the store.
      expect((yield* snapshot).map((client) => client.client_id)).toEqual(["c", "s"])
    }).pipe(provideEmulator({ random: Random.fixed([0.1, 0.3, 0.5, 0.7]) })))

  it.live("draw only on routes with faults, so other requests leave the sequence alone", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      yield* emulator.faults.setRoute("create", { fail: { share: 0.5 } })
      expect((yield* create("a")).status).toBe(500)
      yield* send("GET", "/v1/m2m/clients/a")
      yield* send("GET", "/v1/m2m/clients/b")
      expect((yield* create("a")).status).toBe(200)
    }).pipe(provideEmulator({ random: Random.fixed([0.1, 0.9]) })))

  it.live("refuse a share outside 0 to 1", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      const exit = yield* Effect.exit(emulator.faults.set({ all: { fail: { share: 1.5 } } }))
      expect(exit._tag).toBe("Failure")
      expect(yield* emulator.faults.plan).toEqual({})
    }).pipe(provideEmulator()))
})
