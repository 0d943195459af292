import { describe, expect, it } from "@effect/vitest"
import { InvalidRequest, ServerError } from "@stytch-effect/core"
import type { M2MClientsSearchResponse } from "@stytch-effect/core"
import { Chunk, Deferred, Effect, Either, Fiber, Ref, Stream } from "effect"
import { clients, CursorLoop, pages } from "../src/M2MClientsSearch.js"
import { directory, fakeSearch, scripted } from "./fakeSearch.js"

/** Lets every other fiber run until it blocks, so a test can check that nothing more was asked. */
const settle = Effect.yieldNow().pipe(Effect.repeatN(200))

const idsOf = (page: M2MClientsSearchResponse) => page.m2m_clients.map((client) => client.client_id)

const unavailable = new ServerError({
  status_code: 503,
  request_id: "request-id-test-503",
  error_type: "server_unavailable",
  error_message: "The service is temporarily unavailable."
})

describe("pages", () => {
  it.effect.each([
    { total: 0, limit: 100, expected: [0] },
    { total: 1, limit: 100, expected: [1] },
    { total: 100, limit: 100, expected: [100] },
    { total: 250, limit: 100, expected: [100, 100, 50] },
    { total: 1001, limit: 1000, expected: [1000, 1] },
    { total: 7, limit: 1, expected: [1, 1, 1, 1, 1, 1, 1] }
  ])(
    "$total clients at $limit a page come in pages of $expected",
    ({ expected, limit, total }) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch(directory(total))
        const walked = yield* pages({ limit }).pipe(Stream.runCollect, Effect.provide(fake.layer))
        expect(Chunk.toArray(walked).map((page) => page.m2m_clients.length)).toEqual(expected)
        expect((yield* fake.requests).length).toBe(expected.length)
      })
  )

  it.effect("a search with no results is one empty page carrying its results_metadata", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(0))
      const [only, ...rest] = yield* pages().pipe(
        Stream.runCollect,
        Effect.map(Chunk.toArray),
        Effect.provide(fake.layer)
      )
      expect(rest).toEqual([])
      expect(only?.m2m_clients).toEqual([])
      expect(only?.results_metadata).toMatchObject({ total: 0, next_cursor: null })
    }))

  it.effect("asks the first page with no cursor, then each next_cursor with the same query and limit", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(250))
      const query = { operator: "OR", operands: [{ filter_name: "scopes", filter_value: ["read:users"] }] } as const
      yield* pages({ query, limit: 100 }).pipe(Stream.runDrain, Effect.provide(fake.layer))
      const requests = yield* fake.requests
      expect(requests).toEqual([
        { query, limit: 100 },
        { query, limit: 100, cursor: "offset-100" },
        { query, limit: 100, cursor: "offset-200" }
      ])
      // Optional fields the caller did not give stay out of the request.
      expect("cursor" in requests[0]!).toBe(false)
    }))

  it.effect("asks 100 a page, Stytch's default, and every client when no query is given", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(10))
      yield* pages().pipe(Stream.runDrain, Effect.provide(fake.layer))
      expect(yield* fake.requests).toEqual([{ limit: 100 }])
    }))

  it.effect.each([
    { ending: "null", cursors: ["a", "b", null] },
    { ending: "an empty string", cursors: ["a", "b", ""] }
  ])("ends when next_cursor is $ending", ({ cursors }) =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(scripted(cursors))
      const walked = yield* pages().pipe(Stream.runCollect, Effect.provide(fake.layer))
      expect(Chunk.toArray(walked).map(idsOf)).toEqual([["m2m-client-test-1"], ["m2m-client-test-2"], [
        "m2m-client-test-3"
      ]])
      expect((yield* fake.requests).map((request) => request.cursor)).toEqual([undefined, "a", "b"])
    }))

  it.effect.each([1, 2, 3])(
    "a failure on page %i ends the stream after the pages before it, with no restart",
    (k) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch((request, n) => n === k ? Effect.fail(unavailable) : directory(1000)(request, n))
        const walked = yield* pages({ limit: 10 }).pipe(Stream.either, Stream.runCollect, Effect.provide(fake.layer))
        const emitted = Chunk.toArray(walked)
        expect(emitted.slice(0, -1).map((page) => Either.getOrThrow(page).m2m_clients.length)).toEqual(
          Array.from({ length: k - 1 }, () => 10)
        )
        expect(emitted.at(-1)).toEqual(Either.left(unavailable))
        expect((yield* fake.requests).length).toBe(k)
      })
  )

  it.effect.each([
    { loop: "a page that points at itself", cursors: ["a", "a"], page: 2, firstGivenBy: 1 },
    { loop: "a page that points back three pages", cursors: ["a", "b", "c", "b"], page: 4, firstGivenBy: 2 }
  ])(
    "a cursor handed back twice ($loop) ends the stream with CursorLoop",
    ({ cursors, firstGivenBy, page }) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch(scripted(cursors))
        const walked = yield* pages().pipe(Stream.either, Stream.runCollect, Effect.provide(fake.layer))
        const emitted = Chunk.toArray(walked)
        // Every page up to the one that repeated the cursor was emitted; the repeated cursor was never asked.
        expect(emitted.slice(0, -1).map((page) => Either.getOrThrow(page).m2m_clients.length)).toEqual(
          cursors.map(() => 1)
        )
        const cursor = cursors.at(-1)!
        expect(emitted.at(-1)).toEqual(Either.left(new CursorLoop({ cursor, page, firstGivenBy })))
        expect((yield* fake.requests).length).toBe(cursors.length)
      })
  )

  it.effect("a cursor loop beyond the pages taken is never met", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(scripted(["a", "a"]))
      const walked = yield* pages({}, { readAhead: 0 }).pipe(
        Stream.take(2),
        Stream.runCollect,
        Effect.provide(fake.layer)
      )
      expect(Chunk.size(walked)).toBe(2)
    }))

  it.effect("CursorLoop says which pages gave the cursor", () =>
    Effect.sync(() => {
      const error = new CursorLoop({ cursor: "a", page: 4, firstGivenBy: 2 })
      expect(error._tag).toBe("CursorLoop")
      expect(error.message).toBe(
        "M2MClients.search: page 4 handed back the cursor that page 2 gave; the server's cursors loop"
      )
    }))

  it.effect.each([0, 1001, 2.5, -1])("a page size of %s fails with InvalidRequest naming limit, and nothing is asked", (
    limit
  ) =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(10))
      const walk = pages({ limit })
      const error = yield* walk.pipe(Stream.runDrain, Effect.flip, Effect.provide(fake.layer))
      expect(error).toEqual(
        new InvalidRequest({
          operation: "M2MClients.search",
          field: "limit",
          rule: "must be an integer from 1 to 1000"
        })
      )
      expect(yield* fake.requests).toEqual([])
    }))

  it.effect.each([1, 1000])("a page size of %i is asked as given", (limit) =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(1))
      yield* pages({ limit }).pipe(Stream.runDrain, Effect.provide(fake.layer))
      expect(yield* fake.requests).toEqual([{ limit }])
    }))

  it.effect("a malformed query fails with InvalidRequest naming its field", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(10))
      const query = { operator: "XOR", operands: [] } as any
      const error = yield* pages({ query }).pipe(Stream.runDrain, Effect.flip, Effect.provide(fake.layer))
      expect(error).toMatchObject({ _tag: "InvalidRequest", field: "query.operator" })
      expect(yield* fake.requests).toEqual([])
    }))

  // What untyped callers (plain JavaScript, a parsed config) can pass: a typed failure, as
  // `M2MClients.search` itself answers such a request, never a defect.
  it.effect.each([null, "everything", 7, []])(
    "a request that is not an object (%j) fails with InvalidRequest, and nothing is asked",
    (request) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch(directory(10))
        const error = yield* pages(request as any).pipe(Stream.runDrain, Effect.flip, Effect.provide(fake.layer))
        expect(error).toMatchObject({ _tag: "InvalidRequest", field: "(request)" })
        expect(yield* fake.requests).toEqual([])
      })
  )

  it.effect("null options are no options", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(25))
      const all = yield* clients({ limit: 10 }, null as any).pipe(Stream.runCollect, Effect.provide(fake.layer))
      expect(Chunk.size(all)).toBe(25)
    }))

  it.effect.each([-1, 1.5])(
    "a readAhead of %d fails with InvalidRequest naming readAhead",
    (readAhead) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch(directory(10))
        const error = yield* pages({}, { readAhead }).pipe(Stream.runDrain, Effect.flip, Effect.provide(fake.layer))
        expect(error).toMatchObject({ _tag: "InvalidRequest", field: "readAhead" })
        expect(yield* fake.requests).toEqual([])
      })
  )

  it.effect("each run of a stream is a walk of its own, from the first page", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(25))
      const walk = pages({ limit: 10 })
      yield* walk.pipe(Stream.runDrain, Effect.provide(fake.layer))
      yield* walk.pipe(Stream.runDrain, Effect.provide(fake.layer))
      expect((yield* fake.requests).map((request) => request.cursor)).toEqual([
        undefined,
        "offset-10",
        "offset-20",
        undefined,
        "offset-10",
        "offset-20"
      ])
    }))
})

describe("read-ahead", () => {
  it.effect.each([[0, 1], [1, 2], [2, 3], [3, 4]] as const)(
    "with readAhead %i, %i pages are asked while the consumer works on the first",
    ([readAhead, asked]) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch(directory(100))
        const working = yield* Deferred.make<void>()
        const done = yield* Deferred.make<void>()
        const consumer = yield* pages({ limit: 10 }, { readAhead }).pipe(
          Stream.runForEach((page) =>
            page.results_metadata.next_cursor === "offset-10"
              ? Deferred.succeed(working, undefined).pipe(Effect.zipRight(Deferred.await(done)))
              : Effect.void
          ),
          Effect.provide(fake.layer),
          Effect.fork
        )
        yield* Deferred.await(working)
        yield* settle
        expect((yield* fake.requests).length).toBe(asked)
        yield* Deferred.succeed(done, undefined)
        yield* Fiber.join(consumer)
        expect((yield* fake.requests).length).toBe(10)
      })
  )

  it.effect("by default the next page is asked while the consumer still works on the current one", () =>
    Effect.gen(function*() {
      const secondAsked = yield* Deferred.make<void>()
      const fake = yield* fakeSearch((request, n) =>
        (n === 2 ? Deferred.succeed(secondAsked, undefined) : Effect.void).pipe(
          Effect.zipRight(directory(30)(request, n))
        )
      )
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (event: string) => Ref.update(order, (events) => [...events, event])
      yield* pages({ limit: 10 }).pipe(
        Stream.runForEach((page) =>
          page.results_metadata.next_cursor === "offset-10"
            // Finishing the first page waits for the second page's request: without read-ahead this hangs.
            ? note("working on page 1").pipe(
              Effect.zipRight(Deferred.await(secondAsked)),
              Effect.zipRight(note("page 2 asked; page 1 done"))
            )
            : Effect.void
        ),
        Effect.provide(fake.layer)
      )
      expect(yield* Ref.get(order)).toEqual(["working on page 1", "page 2 asked; page 1 done"])
    }))
})

describe("clients", () => {
  it.effect("emits every client of every page, in order", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(25))
      const walked = yield* clients({ limit: 10 }).pipe(Stream.runCollect, Effect.provide(fake.layer))
      expect(Chunk.toArray(walked).map((client) => client.client_id)).toEqual(
        Array.from({ length: 25 }, (_, i) => `m2m-client-test-${i}`)
      )
    }))

  it.effect("emits nothing for a search with no results", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSearch(directory(0))
      const walked = yield* clients().pipe(Stream.runCollect, Effect.provide(fake.layer))
      expect(Chunk.size(walked)).toBe(0)
      expect((yield* fake.requests).length).toBe(1)
    }))

  it.effect.each([[0, 0], [1, 1], [10, 1], [11, 2], [35, 4], [100, 10], [1000, 10]] as const)(
    "take(%i) of 100 clients at 10 a page, with no read-ahead, asks %i pages",
    ([take, asked]) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch(directory(100))
        const walked = yield* clients({ limit: 10 }, { readAhead: 0 }).pipe(
          Stream.take(take),
          Stream.runCollect,
          Effect.provide(fake.layer)
        )
        expect(Chunk.size(walked)).toBe(Math.min(take, 100))
        yield* settle
        expect((yield* fake.requests).length).toBe(asked)
      })
  )

  it.effect.each([
    { take: 1, needed: 1 },
    { take: 35, needed: 4 }
  ])(
    "with the default read-ahead, take($take) asks at most one page beyond the $needed it needs",
    ({ needed, take }) =>
      Effect.gen(function*() {
        const fake = yield* fakeSearch(directory(100))
        yield* clients({ limit: 10 }).pipe(Stream.take(take), Stream.runDrain, Effect.provide(fake.layer))
        yield* settle
        const asked = (yield* fake.requests).length
        expect(asked).toBeGreaterThanOrEqual(needed)
        expect(asked).toBeLessThanOrEqual(needed + 1)
      })
  )

  it.effect.each([0, 1, 2])("interrupting a walk (readAhead %i) interrupts the request in flight, and asks no more", (
    readAhead
  ) =>
    Effect.gen(function*() {
      const hanging = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const fake = yield* fakeSearch((request, n) =>
        n === 2
          ? Deferred.succeed(hanging, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
          : directory(100)(request, n)
      )
      const walk = yield* clients({ limit: 10 }, { readAhead }).pipe(
        Stream.runDrain,
        Effect.provide(fake.layer),
        Effect.fork
      )
      yield* Deferred.await(hanging)
      yield* Fiber.interrupt(walk)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      yield* settle
      expect((yield* fake.requests).length).toBe(2)
    }))
})
