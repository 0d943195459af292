/**
 * The behaviour every `M2MClients` implementation must show, written once and run against each: the
 * memory layer here, the http layer talking to the emulator elsewhere. It speaks only through the
 * `M2MClients` service, so it cannot lean on any one implementation's insides.
 *
 * Every test builds a fresh layer, so tests share no clients. The tests run on the live clock
 * (`it.live`) because an implementation may do real I/O; none of them waits on time.
 *
 * The limits named here (128-character secrets, 50 scopes, 20 metadata keys, 4096 metadata bytes...)
 * are the ones `@stytch-effect/memory` documents where Stytch is silent.
 */
import { describe, expect, it } from "@effect/vitest"
import type {
  M2MClient,
  M2MClientsCreateRequest,
  M2MClientsSearchRequest,
  M2MClientsUpdateRequest,
  M2MSearchOperand,
  M2MSearchQuery
} from "@stytch-effect/core"
import { M2MClients, maxSearchFilterValues, maxSearchOperands } from "@stytch-effect/core"
import type { Layer } from "effect"
import { Effect, Either, FastCheck as fc, Redacted } from "effect"

// ---------------------------------------------------------------------------------------------------
// Helpers: each operation as an effect needing only the service.
// ---------------------------------------------------------------------------------------------------

const create = (request: M2MClientsCreateRequest) => Effect.flatMap(M2MClients, (clients) => clients.create(request))
const get = (client_id: string) => Effect.flatMap(M2MClients, (clients) => clients.get({ client_id }))
const update = (request: M2MClientsUpdateRequest) => Effect.flatMap(M2MClients, (clients) => clients.update(request))
const remove = (client_id: string) => Effect.flatMap(M2MClients, (clients) => clients.delete({ client_id }))
const search = (request: M2MClientsSearchRequest) => Effect.flatMap(M2MClients, (clients) => clients.search(request))
const rotateStart = (client_id: string) =>
  Effect.flatMap(M2MClients, (clients) => clients.secrets.rotateStart({ client_id }))
const rotateCancel = (client_id: string) =>
  Effect.flatMap(M2MClients, (clients) => clients.secrets.rotateCancel({ client_id }))
const rotate = (client_id: string) => Effect.flatMap(M2MClients, (clients) => clients.secrets.rotate({ client_id }))

/** A secret that passes every rule: 24 varied characters. */
const strongSecret = (tag = "") => Redacted.make(`Str0ng-S3cret-${tag}-xYzQ9wK7`)

const uuidPattern = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
const requestIdPattern = /^request-id-(test|live)-/

/**
 * Every page of a search, following `next_cursor`; `between` runs after each page but the last, given
 * the ids seen so far.
 */
const walk = <E = never, R = never>(
  request: Omit<M2MClientsSearchRequest, "cursor">,
  between: (seen: ReadonlyArray<string>, pageIndex: number) => Effect.Effect<unknown, E, R> = () => Effect.void
) =>
  Effect.gen(function*() {
    const pages: Array<ReadonlyArray<M2MClient>> = []
    const totals: Array<number> = []
    let cursor: string | undefined
    for (;;) {
      const page = yield* search(cursor === undefined ? request : { ...request, cursor })
      pages.push(page.m2m_clients)
      totals.push(page.results_metadata.total)
      if (page.results_metadata.next_cursor === null) break
      // A cursor that does not move the walk forward would otherwise loop for ever.
      expect(page.results_metadata.next_cursor).not.toBe(cursor)
      if (pages.length > 1000) expect.fail("a walk went on for more than 1000 pages")
      cursor = page.results_metadata.next_cursor
      yield* between(pages.flat().map((client) => client.client_id), pages.length - 1)
    }
    return { pages, totals, ids: pages.flat().map((client) => client.client_id) }
  })

const createMany = (count: number, request: (i: number) => Partial<M2MClientsCreateRequest> = () => ({})) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) => Effect.map(create({ scopes: [], ...request(i) }), (response) => response.m2m_client.client_id)
  )

/** The fields of an API error that a test pins. */
export interface ExpectedError {
  readonly _tag: string
  readonly error_type?: string
  readonly status_code?: number
}

/**
 * The error as a plain object, for assertions. A value failed inside a span (every operation runs in
 * one) reaches the caller wrapped in Effect's span-capture `Proxy`, which chai's printer cannot show:
 * it asks the error's inspect hook, which hands back the error itself, and recurses until the stack
 * overflows. So an assertion about such an error that failed reported a RangeError, not the error.
 */
const errorFields = (error: unknown): unknown =>
  typeof error === "object" && error !== null
    ? { ...error, ...("message" in error ? { message: error.message } : {}) }
    : error

/** Checks that `error` is the one `expected` describes (exported for its own test). */
export const expectError = (error: unknown, expected: ExpectedError) => {
  expect(errorFields(error)).toMatchObject(expected)
  if (expected.error_type !== undefined) {
    expect((error as { request_id?: string }).request_id).toMatch(requestIdPattern)
    expect((error as { error_message?: string }).error_message).not.toBe("")
  }
}

/** Runs `self` and checks it failed as `expected`. */
const failsWith = <A, E, R>(self: Effect.Effect<A, E, R>, expected: ExpectedError) =>
  Effect.map(Effect.flip(self), (error) => {
    expectError(error, expected)
    return error
  })

const notFound = { _tag: "ClientNotFound", error_type: "m2m_client_not_found", status_code: 404 } as const
const alreadyRotating = {
  _tag: "SecretAlreadyRotating",
  error_type: "m2m_client_already_rotating_secret",
  status_code: 400
} as const
const notRotating = {
  _tag: "SecretNotRotating",
  error_type: "m2m_client_not_rotating_secret",
  status_code: 400
} as const

/** What `query` selects from `clients`, as the spec defines the filters. */
const selects = (
  query: M2MSearchQuery,
  client: { client_id: string; client_name: string; scopes: ReadonlyArray<string> }
) => {
  const matches = (operand: M2MSearchOperand) =>
    operand.filter_name === "client_id"
      ? operand.filter_value.includes(client.client_id)
      : operand.filter_name === "client_name"
      ? operand.filter_value.includes(client.client_name)
      : client.scopes.some((scope) => operand.filter_value.includes(scope))
  const operands = query.operands ?? []
  if (operands.length === 0) return true
  return query.operator === "AND" ? operands.every(matches) : operands.some(matches)
}

// ---------------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------------

/** Registers the contract's tests, under `name`, against a fresh layer from `makeLayer` per test. */
export const contractSuite = (name: string, makeLayer: () => Layer.Layer<M2MClients, any>): void => {
  const test = <A, E>(title: string, body: () => Effect.Effect<A, E, M2MClients>) =>
    it.live(title, () => Effect.provide(body(), makeLayer()))

  const testEach =
    <T>(cases: ReadonlyArray<T>) => <A, E>(title: string, body: (c: T) => Effect.Effect<A, E, M2MClients>) =>
      it.live.each(cases)(title, (c) => Effect.provide(body(c), makeLayer()))

  describe(name, () => {
    describe("clients.create", () => {
      test("generates an id in Stytch's shape and a secret shown only here", () =>
        Effect.gen(function*() {
          const response = yield* create({ scopes: ["read:users"] })
          const client = response.m2m_client
          expect(response.status_code).toBe(200)
          expect(response.request_id).toMatch(requestIdPattern)
          expect(client.client_id).toMatch(new RegExp(`^m2m-client-(test|live)-${uuidPattern}$`))
          expect(Redacted.isRedacted(client.client_secret)).toBe(true)
          const secret = Redacted.value(client.client_secret)
          expect(secret.length).toBeGreaterThanOrEqual(32)
          expect(client.client_secret_last_four).toBe(secret.slice(-4))
          expect(client).toMatchObject({
            client_name: "",
            client_description: "",
            status: "active",
            scopes: ["read:users"],
            next_client_secret_last_four: null,
            trusted_metadata: {}
          })
          expect("client_secret" in (yield* get(client.client_id)).m2m_client).toBe(false)
        }))

      test("generates a different id and secret each time", () =>
        Effect.gen(function*() {
          const responses = yield* Effect.all([create({ scopes: [] }), create({ scopes: [] })])
          const [a, b] = responses.map((response) => response.m2m_client)
          expect(a!.client_id).not.toBe(b!.client_id)
          expect(Redacted.value(a!.client_secret)).not.toBe(Redacted.value(b!.client_secret))
        }))

      test("keeps the caller's id, secret, name, description and metadata", () =>
        Effect.gen(function*() {
          const secret = strongSecret("own")
          const request = {
            client_id: "billing-worker",
            client_secret: secret,
            client_name: "Billing worker",
            client_description: "Charges cards nightly",
            scopes: ["read:invoices", "write:charges"],
            trusted_metadata: { team: "billing", tier: 2, flags: { beta: true }, owners: ["ana", "bo"] }
          }
          const created = (yield* create(request)).m2m_client
          expect(Redacted.value(created.client_secret)).toBe(Redacted.value(secret))
          expect(created.client_secret_last_four).toBe(Redacted.value(secret).slice(-4))
          const { client_secret: _, ...expected } = request
          expect((yield* get("billing-worker")).m2m_client).toMatchObject(expected)
        }))

      test("never shows the secret when the response is printed or serialised", () =>
        Effect.gen(function*() {
          const response = yield* create({ scopes: [] })
          const secret = Redacted.value(response.m2m_client.client_secret)
          expect(String(response)).not.toContain(secret)
          expect(JSON.stringify(response)).not.toContain(secret)
        }))

      test("keeps ids with characters that mean something in a URL", () =>
        Effect.gen(function*() {
          const ids = ["a/b", "../search", "x?y#z", "100%25", "dots.and-dashes_ok"]
          for (const client_id of ids) yield* create({ client_id, scopes: [] })
          for (const client_id of ids) expect((yield* get(client_id)).m2m_client.client_id).toBe(client_id)
        }))

      const tooManyKeys = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`key${i}`, i]))
      const tooLarge = { blob: "x".repeat(4100) }
      testEach<{ readonly when: string; readonly request: M2MClientsCreateRequest; readonly error: ExpectedError }>([
        {
          when: "a secret with too little entropy",
          request: { scopes: [], client_secret: Redacted.make("aaaaaaaaaaaaaaaa") },
          error: { _tag: "InvalidClientSecret", error_type: "insecure_m2m_client_secret", status_code: 400 }
        },
        {
          when: "a guessable secret",
          request: { scopes: [], client_secret: Redacted.make("12345678") },
          error: { _tag: "InvalidClientSecret", error_type: "insecure_m2m_client_secret", status_code: 400 }
        },
        {
          when: "a secret over 128 characters",
          request: { scopes: [], client_secret: Redacted.make("aB3-".repeat(33)) },
          error: { _tag: "InvalidClientSecret", error_type: "client_secret_too_long", status_code: 400 }
        },
        {
          when: "a secret with spaces",
          request: { scopes: [], client_secret: Redacted.make("correct horse battery staple") },
          error: { _tag: "InvalidClientSecret", error_type: "m2m_client_invalid_client_secret", status_code: 400 }
        },
        {
          when: "a secret under 8 characters (refused before sending)",
          request: { scopes: [], client_secret: Redacted.make("Ab3$x") },
          error: { _tag: "InvalidRequest" }
        },
        {
          when: "a scope with a quote",
          request: { scopes: ["read:\"users\""] },
          error: { _tag: "InvalidScope", error_type: "invalid_m2m_client_scope", status_code: 400 }
        },
        {
          when: "a scope with whitespace (refused before sending)",
          request: { scopes: ["read users"] },
          error: { _tag: "InvalidRequest" }
        },
        {
          when: "more than 50 scopes",
          request: { scopes: Array.from({ length: 51 }, (_, i) => `scope:${i}`) },
          error: { _tag: "InvalidScope", error_type: "too_many_m2m_client_scopes", status_code: 400 }
        },
        {
          when: "metadata with more than 20 keys",
          request: { scopes: [], trusted_metadata: tooManyKeys },
          error: { _tag: "ApiError", error_type: "metadata_too_many_keys", status_code: 400 }
        },
        {
          when: "metadata over 4096 bytes",
          request: { scopes: [], trusted_metadata: tooLarge },
          error: { _tag: "ApiError", error_type: "metadata_too_large", status_code: 400 }
        },
        {
          when: "a client id with ':'",
          request: { scopes: [], client_id: "team:worker" },
          error: { _tag: "ApiError", error_type: "m2m_client_invalid_client_id", status_code: 400 }
        },
        {
          when: "a client id over 128 characters",
          request: { scopes: [], client_id: "c".repeat(129) },
          error: { _tag: "ApiError", error_type: "m2m_client_invalid_client_id", status_code: 400 }
        },
        {
          when: "a client name over 256 characters",
          request: { scopes: [], client_name: "n".repeat(257) },
          error: { _tag: "ApiError", error_type: "m2m_client_invalid_client_name", status_code: 400 }
        },
        {
          when: "a client description over 1024 characters",
          request: { scopes: [], client_description: "d".repeat(1025) },
          error: { _tag: "ApiError", error_type: "m2m_client_invalid_client_description", status_code: 400 }
        }
      ])("refuses $when and stores nothing", ({ error, request }) =>
        Effect.gen(function*() {
          const failure = yield* failsWith(create(request), error)
          if (request.client_secret !== undefined) {
            const secret = Redacted.value(request.client_secret)
            expect(String(failure)).not.toContain(secret)
            expect(JSON.stringify(failure)).not.toContain(secret)
          }
          expect((yield* search({})).results_metadata.total).toBe(0)
        }))

      test("refuses a client id already in use, and keeps the first client", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "worker", client_name: "first", scopes: [] })
          yield* failsWith(create({ client_id: "worker", client_name: "second", scopes: [] }), {
            _tag: "DuplicateClientId",
            error_type: "duplicate_m2m_client_id",
            status_code: 409
          })
          expect((yield* get("worker")).m2m_client.client_name).toBe("first")
        }))

      test("of concurrent creates with one client id, exactly one succeeds", () =>
        Effect.gen(function*() {
          const outcomes = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) => Effect.either(create({ client_id: "contended", client_name: `attempt ${i}`, scopes: [] })),
            { concurrency: "unbounded" }
          )
          const failures = outcomes.filter((outcome) => outcome._tag === "Left").map((outcome) => outcome.left)
          expect(outcomes.length - failures.length).toBe(1)
          for (const failure of failures) expectError(failure, { _tag: "DuplicateClientId" })
          expect((yield* search({})).results_metadata.total).toBe(1)
        }))

      test("a deleted client's id can be used again", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "recycled", scopes: ["old"] })
          yield* remove("recycled")
          yield* create({ client_id: "recycled", scopes: ["new"] })
          expect((yield* get("recycled")).m2m_client.scopes).toEqual(["new"])
        }))
    })

    describe("clients.get", () => {
      test("answers the client as created, without its secret", () =>
        Effect.gen(function*() {
          const created = (yield* create({ scopes: ["a"], client_name: "n" })).m2m_client
          const response = yield* get(created.client_id)
          expect(response.status_code).toBe(200)
          expect(response.request_id).toMatch(requestIdPattern)
          const { client_secret: _, ...expected } = created
          expect({ ...response.m2m_client }).toEqual(expected)
        }))

      test("fails with ClientNotFound for an unknown id", () => failsWith(get("nobody"), notFound))

      test("fails with ClientNotFound for an id that looks like another route", () =>
        Effect.gen(function*() {
          yield* create({ scopes: [] })
          yield* failsWith(get("../search"), notFound)
          yield* failsWith(get("search"), notFound)
        }))
    })

    describe("clients.update", () => {
      const base = {
        client_id: "updatable",
        client_name: "name",
        client_description: "description",
        scopes: ["one"],
        trusted_metadata: { k: "v" }
      }
      testEach<{ readonly field: string; readonly change: Omit<M2MClientsUpdateRequest, "client_id"> }>([
        { field: "client_name", change: { client_name: "renamed" } },
        { field: "client_description", change: { client_description: "" } },
        { field: "status", change: { status: "inactive" } },
        { field: "scopes", change: { scopes: ["two", "three"] } },
        { field: "trusted_metadata", change: { trusted_metadata: { other: [1, 2] } } },
        { field: "nothing", change: {} }
      ])("changes $field and nothing else", ({ change }) =>
        Effect.gen(function*() {
          const created = (yield* create(base)).m2m_client
          const { client_secret: _, ...before } = created
          const response = yield* update({ client_id: "updatable", ...change })
          expect(response.status_code).toBe(200)
          expect({ ...response.m2m_client }).toEqual({ ...before, ...change })
          expect({ ...(yield* get("updatable")).m2m_client }).toEqual({ ...before, ...change })
        }))

      test("keeps both secrets' last fours during a rotation", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "rotating", scopes: [] })
          const started = (yield* rotateStart("rotating")).m2m_client
          const updated = (yield* update({ client_id: "rotating", client_name: "x" })).m2m_client
          expect(updated.client_secret_last_four).toBe(started.client_secret_last_four)
          expect(updated.next_client_secret_last_four).toBe(started.next_client_secret_last_four)
        }))

      test("a deactivated client can be activated again", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "toggled", scopes: [] })
          yield* update({ client_id: "toggled", status: "inactive" })
          yield* update({ client_id: "toggled", status: "active" })
          expect((yield* get("toggled")).m2m_client.status).toBe("active")
        }))

      test("fails with ClientNotFound for an unknown id", () =>
        failsWith(update({ client_id: "nobody", client_name: "x" }), notFound))

      testEach<
        {
          readonly when: string
          readonly change: Omit<M2MClientsUpdateRequest, "client_id">
          readonly error: ExpectedError
        }
      >([
        {
          when: "a bad scope",
          change: { scopes: ["back\\slash"] },
          error: { _tag: "InvalidScope", error_type: "invalid_m2m_client_scope", status_code: 400 }
        },
        {
          when: "too many scopes",
          change: { scopes: Array.from({ length: 51 }, (_, i) => `s${i}`) },
          error: { _tag: "InvalidScope", error_type: "too_many_m2m_client_scopes", status_code: 400 }
        },
        {
          when: "metadata with too many keys",
          change: { trusted_metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) },
          error: { _tag: "ApiError", error_type: "metadata_too_many_keys", status_code: 400 }
        },
        {
          when: "a status other than active or inactive (refused before sending)",
          change: { status: "paused" as "active" },
          error: { _tag: "InvalidRequest" }
        },
        {
          when: "a name over 256 characters",
          change: { client_name: "n".repeat(257) },
          error: { _tag: "ApiError", error_type: "m2m_client_invalid_client_name", status_code: 400 }
        }
      ])("refuses $when and changes nothing", ({ change, error }) =>
        Effect.gen(function*() {
          const { client_secret: _, ...before } = (yield* create({ client_id: "kept", scopes: ["s"] })).m2m_client
          yield* failsWith(update({ client_id: "kept", ...change }), error)
          expect({ ...(yield* get("kept")).m2m_client }).toEqual(before)
        }))
    })

    describe("clients.delete", () => {
      test("answers the deleted id, after which the client is gone", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "doomed", scopes: [] })
          const response = yield* remove("doomed")
          expect(response.client_id).toBe("doomed")
          expect(response.status_code).toBe(200)
          expect(response.request_id).toMatch(requestIdPattern)
          yield* failsWith(get("doomed"), notFound)
          expect((yield* search({})).m2m_clients).toEqual([])
        }))

      test("fails with ClientNotFound for an unknown or already deleted id", () =>
        Effect.gen(function*() {
          yield* failsWith(remove("nobody"), notFound)
          yield* create({ client_id: "once", scopes: [] })
          yield* remove("once")
          yield* failsWith(remove("once"), notFound)
        }))

      test("leaves the other clients alone", () =>
        Effect.gen(function*() {
          const ids = yield* createMany(3)
          yield* remove(ids[1]!)
          expect((yield* walk({})).ids).toEqual([ids[0], ids[2]])
        }))
    })

    describe("clients.search", () => {
      test("with no query answers every client in creation order, with the total", () =>
        Effect.gen(function*() {
          const ids = yield* createMany(5)
          const response = yield* search({})
          expect(response.status_code).toBe(200)
          expect(response.request_id).toMatch(requestIdPattern)
          expect(response.m2m_clients.map((client) => client.client_id)).toEqual(ids)
          expect(response.results_metadata).toMatchObject({ total: 5, next_cursor: null })
        }))

      test("answers an empty page for an empty project", () =>
        Effect.map(search({}), (response) => {
          expect(response.m2m_clients).toEqual([])
          expect(response.results_metadata).toMatchObject({ total: 0, next_cursor: null })
        }))

      test("pages 100 clients at a time by default", () =>
        Effect.gen(function*() {
          const ids = yield* createMany(101)
          const first = yield* search({})
          expect(first.m2m_clients.length).toBe(100)
          expect(first.results_metadata.total).toBe(101)
          const second = yield* search({ cursor: first.results_metadata.next_cursor! })
          expect(second.m2m_clients.map((client) => client.client_id)).toEqual([ids[100]])
          expect(second.results_metadata.next_cursor).toBeNull()
        }))

      test("an empty cursor asks for the first page", () =>
        Effect.gen(function*() {
          const ids = yield* createMany(3)
          const response = yield* search({ cursor: "", limit: 2 })
          expect(response.m2m_clients.map((client) => client.client_id)).toEqual(ids.slice(0, 2))
        }))

      test("a walk that ends exactly on a page boundary has no empty last page", () =>
        Effect.gen(function*() {
          const ids = yield* createMany(4)
          const { ids: seen, pages } = yield* walk({ limit: 2 })
          expect(seen).toEqual(ids)
          expect(pages.map((page) => page.length)).toEqual([2, 2])
        }))

      test("includes deactivated clients", () =>
        Effect.gen(function*() {
          const [id] = yield* createMany(1)
          yield* update({ client_id: id!, status: "inactive" })
          const response = yield* search({})
          expect(response.m2m_clients.map((client) => client.status)).toEqual(["inactive"])
        }))

      const catalogue = [
        { client_id: "c-reader", client_name: "reader", scopes: ["read"] },
        { client_id: "c-writer", client_name: "writer", scopes: ["write"] },
        { client_id: "c-admin", client_name: "admin", scopes: ["read", "write", "admin"] },
        { client_id: "c-idle", client_name: "idle", scopes: [] },
        { client_id: "c-reader-2", client_name: "reader", scopes: ["read", "audit"] }
      ]
      testEach<{ readonly query: M2MSearchQuery; readonly expected: ReadonlyArray<string> }>([
        { query: { operator: "AND", operands: [] }, expected: catalogue.map((client) => client.client_id) },
        { query: { operator: "OR", operands: [] }, expected: catalogue.map((client) => client.client_id) },
        // Only the operator is required.
        { query: { operator: "AND" }, expected: catalogue.map((client) => client.client_id) },
        {
          query: {
            operator: "AND",
            operands: [{ filter_name: "client_id", filter_value: ["c-admin", "c-idle", "none"] }]
          },
          expected: ["c-admin", "c-idle"]
        },
        {
          query: { operator: "AND", operands: [{ filter_name: "client_name", filter_value: ["reader"] }] },
          expected: ["c-reader", "c-reader-2"]
        },
        {
          query: { operator: "AND", operands: [{ filter_name: "client_name", filter_value: ["read"] }] },
          expected: []
        },
        {
          query: { operator: "AND", operands: [{ filter_name: "scopes", filter_value: ["write", "audit"] }] },
          expected: ["c-writer", "c-admin", "c-reader-2"]
        },
        {
          query: {
            operator: "AND",
            operands: [
              { filter_name: "scopes", filter_value: ["read"] },
              { filter_name: "client_name", filter_value: ["reader"] }
            ]
          },
          expected: ["c-reader", "c-reader-2"]
        },
        {
          query: {
            operator: "AND",
            operands: [
              { filter_name: "scopes", filter_value: ["read"] },
              { filter_name: "scopes", filter_value: ["write"] }
            ]
          },
          expected: ["c-admin"]
        },
        {
          query: {
            operator: "AND",
            operands: [
              { filter_name: "client_id", filter_value: ["c-admin", "c-idle"] },
              { filter_name: "client_id", filter_value: ["c-idle", "c-reader"] }
            ]
          },
          expected: ["c-idle"]
        },
        {
          query: {
            operator: "OR",
            operands: [
              { filter_name: "client_name", filter_value: ["idle"] },
              { filter_name: "client_name", filter_value: ["writer"] }
            ]
          },
          expected: ["c-writer", "c-idle"]
        },
        {
          query: {
            operator: "OR",
            operands: [
              { filter_name: "client_id", filter_value: ["c-idle"] },
              { filter_name: "scopes", filter_value: ["admin"] }
            ]
          },
          expected: ["c-admin", "c-idle"]
        },
        {
          query: {
            operator: "OR",
            operands: [
              { filter_name: "client_name", filter_value: ["writer"] },
              { filter_name: "scopes", filter_value: ["audit"] }
            ]
          },
          expected: ["c-writer", "c-reader-2"]
        }
      ])("filters $query.operator $query.operands", ({ expected, query }) =>
        Effect.gen(function*() {
          for (const client of catalogue) yield* create(client)
          const { ids, totals } = yield* walk({ query, limit: 1 })
          expect(ids).toEqual(expected)
          // The total counts every match, on every page.
          for (const total of totals) expect(total).toBe(expected.length)
        }))

      test(`an AND of ${maxSearchOperands} scope operands, the most a query holds, selects clients meeting every one`, () =>
        Effect.gen(function*() {
          const scopes = Array.from({ length: maxSearchOperands }, (_, i) => `s-${i}`)
          yield* create({ client_id: "every", scopes })
          yield* create({ client_id: "all-but-last", scopes: scopes.slice(0, -1) })
          yield* create({ client_id: "all-but-first", scopes: scopes.slice(1) })
          // One scope can meet several operands: here "shared" meets all but the first.
          yield* create({ client_id: "first-and-shared", scopes: ["s-0", "shared"] })
          const operands = scopes.map((scope, i) => ({
            filter_name: "scopes" as const,
            filter_value: i === 0 ? [scope] : [scope, "shared"]
          }))
          const { ids, totals } = yield* walk({ query: { operator: "AND", operands }, limit: 1 })
          expect(ids).toEqual(["every", "first-and-shared"])
          for (const total of totals) expect(total).toBe(2)
        }))

      test("the total follows clients created and deleted between pages", () =>
        Effect.gen(function*() {
          const query: M2MSearchQuery = { operator: "AND", operands: [{ filter_name: "scopes", filter_value: ["x"] }] }
          const [first] = yield* createMany(3, () => ({ scopes: ["x"] }))
          yield* createMany(2)
          const { totals } = yield* walk(
            { query, limit: 1 },
            (_, pageIndex): Effect.Effect<unknown, unknown, M2MClients> =>
              pageIndex === 0 ? create({ scopes: ["x"] }) : pageIndex === 1 ? remove(first!) : Effect.void
          )
          expect(totals).toEqual([3, 4, 3, 3])
        }))

      test("fails with InvalidSearchQuery for an operand with no values", () =>
        failsWith(search({ query: { operator: "AND", operands: [{ filter_name: "scopes", filter_value: [] }] } }), {
          _tag: "InvalidSearchQuery",
          error_type: "m2m_search_missing_filter_value",
          status_code: 400
        }))

      testEach<{ readonly when: string; readonly request: unknown }>([
        {
          when: "an unknown filter name",
          request: { query: { operator: "AND", operands: [{ filter_name: "status", filter_value: ["active"] }] } }
        },
        { when: "an unknown operator", request: { query: { operator: "XOR", operands: [] } } },
        { when: "a limit over 1000", request: { limit: 1001 } },
        { when: "a limit of 0", request: { limit: 0 } },
        {
          when: `more than ${maxSearchOperands} operands`,
          request: {
            query: {
              operator: "OR",
              operands: Array.from({ length: maxSearchOperands + 1 }, (_, i) => ({
                filter_name: "client_id",
                filter_value: [`c-${i}`]
              }))
            }
          }
        },
        {
          when: `more than ${maxSearchFilterValues} values in one operand`,
          request: {
            query: {
              operator: "OR",
              operands: [{
                filter_name: "client_id",
                filter_value: Array.from({ length: maxSearchFilterValues + 1 }, (_, i) => `c-${i}`)
              }]
            }
          }
        }
      ])(
        "refuses $when before sending",
        ({ request }) => failsWith(search(request as M2MClientsSearchRequest), { _tag: "InvalidRequest" })
      )

      test("fails with a typed error for a cursor it did not issue", () =>
        Effect.gen(function*() {
          yield* createMany(3)
          const { results_metadata } = yield* search({ limit: 1 })
          const issued = results_metadata.next_cursor!
          const forged = ["not a cursor", "e30", Buffer.from("{\"after\":-1}").toString("base64url"), `${issued}x`]
          for (const cursor of forged) {
            yield* failsWith(search({ cursor }), {
              _tag: "InvalidSearchQuery",
              error_type: "invalid_search_cursor",
              status_code: 400
            })
          }
        }))

      test("a walk sees every client that exists throughout it exactly once, while others come and go", () =>
        Effect.gen(function*() {
          const initial = yield* createMany(30, (i) => ({ client_id: `initial-${i}` }))
          const deletedSeen = new Set<string>()
          const deletedUnseen = new Set<string>()
          const created: Array<string> = []
          const { ids } = yield* walk({ limit: 7 }, (seen, pageIndex) =>
            Effect.gen(function*() {
              // Delete one client already seen and the last one not yet seen, and add two.
              const alive = (id: string) => !deletedSeen.has(id) && !deletedUnseen.has(id)
              const seenVictim = seen.find((id) => id.startsWith("initial-") && alive(id))
              const unseenVictim = initial.filter((id) => alive(id) && !seen.includes(id)).at(-1)
              if (seenVictim !== undefined) {
                yield* remove(seenVictim)
                deletedSeen.add(seenVictim)
              }
              if (unseenVictim !== undefined) {
                yield* remove(unseenVictim)
                deletedUnseen.add(unseenVictim)
              }
              created.push(...(yield* createMany(2, (i) => ({ client_id: `during-${pageIndex}-${i}` }))))
            }))
          expect(deletedUnseen.size).toBeGreaterThan(0)
          expect(new Set(ids).size).toBe(ids.length)
          const survivors = initial.filter((id) => !deletedSeen.has(id) && !deletedUnseen.has(id))
          for (const id of [...survivors, ...deletedSeen]) expect(ids).toContain(id)
          for (const id of deletedUnseen) expect(ids).not.toContain(id)
          const order = [...initial, ...created]
          expect([...ids].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(ids)
        }))

      test("a cursor stays valid after the client it points after is deleted", () =>
        Effect.gen(function*() {
          const ids = yield* createMany(4)
          const first = yield* search({ limit: 2 })
          yield* remove(ids[1]!)
          const rest = yield* search({ limit: 2, cursor: first.results_metadata.next_cursor! })
          expect(rest.m2m_clients.map((client) => client.client_id)).toEqual(ids.slice(2))
        }))

      const names = ["alpha", "beta", ""]
      const scopes = ["read", "write", "admin"]
      const catalogueArb = fc.array(
        fc.record({
          client_name: fc.constantFrom(...names),
          scopes: fc.subarray(scopes)
        }),
        { maxLength: 12 }
      )
      const operandArb = (size: number): fc.Arbitrary<M2MSearchOperand> =>
        fc.oneof(
          fc.record({
            filter_name: fc.constant("client_id" as const),
            filter_value: fc.subarray(Array.from({ length: Math.max(size, 1) }, (_, i) => `p-${i}`), { minLength: 1 })
          }),
          fc.record({
            filter_name: fc.constant("client_name" as const),
            filter_value: fc.subarray(names, { minLength: 1 })
          }),
          fc.record({
            filter_name: fc.constant("scopes" as const),
            filter_value: fc.subarray(scopes, { minLength: 1 })
          })
        )
      const caseArb = catalogueArb.chain((clients) =>
        fc.record({
          clients: fc.constant(clients),
          query: fc.record({
            operator: fc.constantFrom("AND" as const, "OR" as const),
            operands: fc.array(operandArb(clients.length), { maxLength: 3 })
          }),
          limit: fc.integer({ min: 1, max: 5 })
        })
      )

      it.live.prop(
        "a walk answers exactly the clients the query selects, in creation order",
        [caseArb],
        ([{ clients, limit, query }]) =>
          Effect.gen(function*() {
            const catalogue = clients.map((client, i) => ({ ...client, client_id: `p-${i}` }))
            for (const client of catalogue) yield* create(client)
            const { ids, pages, totals } = yield* walk({ query, limit })
            const expected = catalogue.filter((client) => selects(query, client)).map((client) => client.client_id)
            expect(ids).toEqual(expected)
            for (const page of pages) expect(page.length).toBeLessThanOrEqual(limit)
            for (const total of totals) expect(total).toBe(expected.length)
          }).pipe(Effect.provide(makeLayer())),
        { fastCheck: { numRuns: 30 } }
      )
    })

    describe("secrets.rotateStart", () => {
      test("makes a next secret, shown only here, beside the current one", () =>
        Effect.gen(function*() {
          const created = (yield* create({ client_id: "r", scopes: [] })).m2m_client
          const response = yield* rotateStart("r")
          const client = response.m2m_client
          expect(response.status_code).toBe(200)
          expect(response.request_id).toMatch(requestIdPattern)
          const next = Redacted.value(client.next_client_secret)
          expect(next).not.toBe(Redacted.value(created.client_secret))
          expect(client.client_secret_last_four).toBe(created.client_secret_last_four)
          expect(client.next_client_secret_last_four).toBe(next.slice(-4))
          expect(String(response)).not.toContain(next)
          const fetched = (yield* get("r")).m2m_client
          expect(fetched.next_client_secret_last_four).toBe(next.slice(-4))
          expect("next_client_secret" in fetched).toBe(false)
        }))

      test("fails with SecretAlreadyRotating while a rotation is in progress", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "r", scopes: [] })
          const started = (yield* rotateStart("r")).m2m_client
          yield* failsWith(rotateStart("r"), alreadyRotating)
          expect((yield* get("r")).m2m_client.next_client_secret_last_four).toBe(started.next_client_secret_last_four)
        }))

      test("of concurrent starts on one client, exactly one succeeds", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "r", scopes: [] })
          const outcomes = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.either(rotateStart("r")), {
            concurrency: "unbounded"
          })
          const successes = outcomes.filter((outcome) => outcome._tag === "Right")
          expect(successes.length).toBe(1)
          for (const outcome of outcomes) if (outcome._tag === "Left") expectError(outcome.left, alreadyRotating)
        }))

      test("fails with ClientNotFound for an unknown id", () => failsWith(rotateStart("nobody"), notFound))
    })

    describe("secrets.rotateCancel", () => {
      test("discards the next secret and keeps the current one", () =>
        Effect.gen(function*() {
          const created = (yield* create({ client_id: "r", scopes: [] })).m2m_client
          yield* rotateStart("r")
          const response = yield* rotateCancel("r")
          expect(response.status_code).toBe(200)
          expect(response.m2m_client.next_client_secret_last_four).toBeNull()
          expect(response.m2m_client.client_secret_last_four).toBe(created.client_secret_last_four)
          expect((yield* get("r")).m2m_client.next_client_secret_last_four).toBeNull()
        }))

      test("fails with SecretNotRotating without a rotation in progress", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "r", scopes: [] })
          yield* failsWith(rotateCancel("r"), notRotating)
        }))

      test("fails with ClientNotFound for an unknown id", () => failsWith(rotateCancel("nobody"), notFound))
    })

    describe("secrets.rotate", () => {
      test("makes the next secret the current one and ends the rotation", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "r", scopes: [] })
          const next = Redacted.value((yield* rotateStart("r")).m2m_client.next_client_secret)
          const response = yield* rotate("r")
          expect(response.status_code).toBe(200)
          expect(response.m2m_client.client_secret_last_four).toBe(next.slice(-4))
          expect(response.m2m_client.next_client_secret_last_four).toBeNull()
          expect((yield* get("r")).m2m_client).toMatchObject({
            client_secret_last_four: next.slice(-4),
            next_client_secret_last_four: null
          })
        }))

      test("fails with SecretNotRotating without a rotation in progress", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "r", scopes: [] })
          yield* failsWith(rotate("r"), notRotating)
        }))

      test("fails with ClientNotFound for an unknown id", () => failsWith(rotate("nobody"), notFound))
    })

    describe("the rotation state machine", () => {
      type Action = "start" | "cancel" | "rotate"
      const act: Record<Action, (client_id: string) => Effect.Effect<unknown, unknown, M2MClients>> = {
        start: rotateStart,
        cancel: rotateCancel,
        rotate
      }
      // From each state, each action: what it answers and the state it leaves.
      testEach<
        {
          readonly from: "idle" | "rotating"
          readonly action: Action
          readonly outcome: ExpectedError | "ok"
          readonly to: "idle" | "rotating"
        }
      >([
        { from: "idle", action: "start", outcome: "ok", to: "rotating" },
        { from: "idle", action: "cancel", outcome: notRotating, to: "idle" },
        { from: "idle", action: "rotate", outcome: notRotating, to: "idle" },
        { from: "rotating", action: "start", outcome: alreadyRotating, to: "rotating" },
        { from: "rotating", action: "cancel", outcome: "ok", to: "idle" },
        { from: "rotating", action: "rotate", outcome: "ok", to: "idle" }
      ])("$from + $action -> $to", ({ action, from, outcome, to }) =>
        Effect.gen(function*() {
          yield* create({ client_id: "m", scopes: [] })
          if (from === "rotating") yield* rotateStart("m")
          const result = yield* Effect.either(act[action]("m"))
          if (outcome === "ok") expect(result._tag).toBe("Right")
          else expectError(Either.isLeft(result) ? result.left : undefined, outcome)
          const rotating = (yield* get("m")).m2m_client.next_client_secret_last_four !== null
          expect(rotating ? "rotating" : "idle").toBe(to)
        }))

      test("a client can rotate again and again", () =>
        Effect.gen(function*() {
          yield* create({ client_id: "m", scopes: [] })
          const seen = new Set<string>()
          for (let round = 0; round < 3; round++) {
            seen.add(Redacted.value((yield* rotateStart("m")).m2m_client.next_client_secret))
            yield* rotate("m")
          }
          expect(seen.size).toBe(3)
        }))
    })
  })
}
