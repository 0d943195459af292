/**
 * The eight endpoints over real HTTP: Stytch's paths, status codes and body shapes, with a request id
 * on every answer, and each documented error as the wire carries it.
 */
import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { ClientCredentials } from "@stytch-effect/memory"
import { Effect, Redacted } from "effect"
import type { Answer } from "./support.js"
import {
  expectClientShape,
  expectError,
  provideEmulator,
  requestIdPattern,
  seedClient,
  send,
  snapshot
} from "./support.js"

const expectSuccess = (answer: { readonly status: number; readonly body: any }, keys: ReadonlyArray<string>) => {
  expect(answer.status).toBe(200)
  expect(Object.keys(answer.body).sort()).toEqual(["request_id", "status_code", ...keys].sort())
  expect(answer.body.status_code).toBe(200)
  expect(answer.body.request_id).toMatch(requestIdPattern)
}

describe("clients.create: POST /v1/m2m/clients", () => {
  it.live("answers the new client with its secret, the only time it is shown", () =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/v1/m2m/clients", { json: { scopes: ["read:users"] } })
      expectSuccess(answer, ["m2m_client"])
      const client = answer.body.m2m_client
      expectClientShape(client, ["client_secret"])
      expect(client).toMatchObject({
        client_name: "",
        client_description: "",
        status: "active",
        scopes: ["read:users"],
        next_client_secret_last_four: null,
        trusted_metadata: {}
      })
      expect(client.client_id).toMatch(/^m2m-client-test-[0-9a-f-]{36}$/)
      expect(client.client_secret_last_four).toBe(client.client_secret.slice(-4))
      const credentials = yield* ClientCredentials
      expect(yield* credentials.verify(client.client_id, Redacted.make(client.client_secret))).toBe(true)
    }).pipe(provideEmulator()))

  it.live("keeps every field given, a custom secret included", () =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/v1/m2m/clients", {
        json: {
          client_id: "billing-worker",
          client_secret: "Tr0ub4dor&3-horse-battery",
          client_name: "Billing worker",
          client_description: "Reconciles invoices nightly",
          scopes: ["read:invoices", "write:invoices"],
          trusted_metadata: { team: "billing", tier: 2 }
        }
      })
      expectSuccess(answer, ["m2m_client"])
      expect(answer.body.m2m_client).toEqual({
        client_id: "billing-worker",
        client_secret: "Tr0ub4dor&3-horse-battery",
        client_name: "Billing worker",
        client_description: "Reconciles invoices nightly",
        status: "active",
        scopes: ["read:invoices", "write:invoices"],
        client_secret_last_four: "tery",
        next_client_secret_last_four: null,
        trusted_metadata: { team: "billing", tier: 2 }
      })
    }).pipe(provideEmulator()))

  it.live("refuses a client id already in use", () =>
    Effect.gen(function*() {
      yield* seedClient("taken")
      const answer = yield* send("POST", "/v1/m2m/clients", { json: { client_id: "taken", scopes: [] } })
      expectError(answer, 409, "duplicate_m2m_client_id")
    }).pipe(provideEmulator()))

  const secret = "s3cr3t!"
  it.live.each([
    { case: "no scopes", body: {}, errorType: "invalid_m2m_client_scope" },
    { case: "a scope with whitespace", body: { scopes: ["read users"] }, errorType: "invalid_m2m_client_scope" },
    { case: "scopes that are not a list", body: { scopes: "read:users" }, errorType: "invalid_m2m_client_scope" },
    {
      case: "a secret under 8 characters",
      body: { scopes: [], client_secret: secret },
      errorType: "insecure_m2m_client_secret"
    },
    {
      case: "a secret that is not a string",
      body: { scopes: [], client_secret: 12345678 },
      errorType: "m2m_client_invalid_client_secret"
    },
    {
      case: "metadata that is a list",
      body: { scopes: [], trusted_metadata: [] },
      errorType: "metadata_invalid_format"
    },
    { case: "an empty client id", body: { scopes: [], client_id: "" }, errorType: "m2m_client_invalid_client_id" },
    {
      case: "a name that is not a string",
      body: { scopes: [], client_name: 7 },
      errorType: "m2m_client_invalid_client_name"
    },
    {
      case: "a description that is not a string",
      body: { scopes: [], client_description: false },
      errorType: "m2m_client_invalid_client_description"
    }
  ])("refuses $case with $errorType, creating nothing", ({ body, errorType }) =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/v1/m2m/clients", { json: body })
      expectError(answer, 400, errorType)
      expect(answer.body.error_details).toMatchObject({ field: expect.any(String), rule: expect.any(String) })
      expect(answer.text).not.toContain(secret)
      expect(yield* snapshot).toEqual([])
    }).pipe(provideEmulator()))
})

describe("clients.get: GET /v1/m2m/clients/{client_id}", () => {
  it.live("answers the client without any secret", () =>
    Effect.gen(function*() {
      yield* seedClient("reader", ["read:users"])
      const answer = yield* send("GET", "/v1/m2m/clients/reader")
      expectSuccess(answer, ["m2m_client"])
      expectClientShape(answer.body.m2m_client)
      expect(answer.body.m2m_client).toMatchObject({ client_id: "reader", scopes: ["read:users"] })
    }).pipe(provideEmulator()))

  it.live("answers 404 m2m_client_not_found for an unknown id", () =>
    Effect.gen(function*() {
      expectError(yield* send("GET", "/v1/m2m/clients/nobody"), 404, "m2m_client_not_found")
    }).pipe(provideEmulator()))
})

describe("clients.update: PUT /v1/m2m/clients/{client_id}", () => {
  it.live("changes only the fields given", () =>
    Effect.gen(function*() {
      const created = yield* seedClient("worker", ["read:users"])
      const answer = yield* send("PUT", "/v1/m2m/clients/worker", {
        json: { client_name: "Worker", status: "inactive" }
      })
      expectSuccess(answer, ["m2m_client"])
      expectClientShape(answer.body.m2m_client)
      expect(answer.body.m2m_client).toEqual({
        client_id: "worker",
        client_name: "Worker",
        client_description: "",
        status: "inactive",
        scopes: ["read:users"],
        client_secret_last_four: created.m2m_client.client_secret_last_four,
        next_client_secret_last_four: null,
        trusted_metadata: {}
      })
    }).pipe(provideEmulator()))

  it.live("acts on the client in the path, whatever client_id the body holds", () =>
    Effect.gen(function*() {
      yield* seedClient("in-path")
      yield* seedClient("in-body")
      const answer = yield* send("PUT", "/v1/m2m/clients/in-path", { json: { client_id: "in-body", client_name: "x" } })
      expect(answer.body.m2m_client).toMatchObject({ client_id: "in-path", client_name: "x" })
      const clients = yield* M2MClients
      expect((yield* clients.get({ client_id: "in-body" })).m2m_client.client_name).toBe("")
    }).pipe(provideEmulator()))

  it.live.each([
    {
      case: "a status other than active or inactive",
      body: { status: "paused" },
      errorType: "invalid_m2m_client_status"
    },
    { case: "a bad scope", body: { scopes: [""] }, errorType: "invalid_m2m_client_scope" },
    { case: "metadata that is not an object", body: { trusted_metadata: "{}" }, errorType: "metadata_invalid_format" }
  ])("refuses $case with $errorType, changing nothing", ({ body, errorType }) =>
    Effect.gen(function*() {
      yield* seedClient("worker")
      const before = yield* snapshot
      expectError(yield* send("PUT", "/v1/m2m/clients/worker", { json: body }), 400, errorType)
      expect(yield* snapshot).toEqual(before)
    }).pipe(provideEmulator()))

  it.live("answers 404 m2m_client_not_found for an unknown id", () =>
    Effect.gen(function*() {
      expectError(yield* send("PUT", "/v1/m2m/clients/nobody", { json: {} }), 404, "m2m_client_not_found")
    }).pipe(provideEmulator()))
})

describe("clients.delete: DELETE /v1/m2m/clients/{client_id}", () => {
  it.live("answers the id only, and the client is gone", () =>
    Effect.gen(function*() {
      yield* seedClient("short-lived")
      const answer = yield* send("DELETE", "/v1/m2m/clients/short-lived")
      expectSuccess(answer, ["client_id"])
      expect(answer.body.client_id).toBe("short-lived")
      expectError(yield* send("GET", "/v1/m2m/clients/short-lived"), 404, "m2m_client_not_found")
    }).pipe(provideEmulator()))

  it.live("answers 404 m2m_client_not_found for an unknown id", () =>
    Effect.gen(function*() {
      expectError(yield* send("DELETE", "/v1/m2m/clients/nobody"), 404, "m2m_client_not_found")
    }).pipe(provideEmulator()))
})

describe("clients.search: POST /v1/m2m/clients/search", () => {
  it.live("answers a page of clients and its metadata", () =>
    Effect.gen(function*() {
      yield* seedClient("a", ["read"])
      yield* seedClient("b", ["write"])
      const answer = yield* send("POST", "/v1/m2m/clients/search", { json: {} })
      expectSuccess(answer, ["m2m_clients", "results_metadata"])
      expect(answer.body.m2m_clients.map((client: any) => client.client_id)).toEqual(["a", "b"])
      answer.body.m2m_clients.forEach((client: unknown) => expectClientShape(client))
      expect(answer.body.results_metadata).toEqual({ total: 2, next_cursor: null })
    }).pipe(provideEmulator()))

  it.live("filters by the query", () =>
    Effect.gen(function*() {
      yield* seedClient("a", ["read"])
      yield* seedClient("b", ["write"])
      const answer = yield* send("POST", "/v1/m2m/clients/search", {
        json: { query: { operator: "OR", operands: [{ filter_name: "scopes", filter_value: ["write"] }] } }
      })
      expect(answer.body.m2m_clients.map((client: any) => client.client_id)).toEqual(["b"])
      expect(answer.body.results_metadata.total).toBe(1)
    }).pipe(provideEmulator()))

  it.live("walks every client page by page with next_cursor", () =>
    Effect.gen(function*() {
      const ids = ["c1", "c2", "c3", "c4", "c5"]
      yield* Effect.forEach(ids, (id) => seedClient(id))
      const seen: Array<string> = []
      let cursor: string | null = ""
      let pages = 0
      while (cursor !== null) {
        const answer: Answer = yield* send("POST", "/v1/m2m/clients/search", { json: { limit: 2, cursor } })
        expect(answer.status).toBe(200)
        seen.push(...answer.body.m2m_clients.map((client: any) => client.client_id))
        cursor = answer.body.results_metadata.next_cursor
        pages++
      }
      expect({ seen, pages }).toEqual({ seen: ids, pages: 3 })
    }).pipe(provideEmulator()))

  const operands = (operand: unknown) => ({ query: { operator: "AND", operands: [operand] } })
  it.live.each([
    {
      case: "an unknown filter",
      body: operands({ filter_name: "colour", filter_value: ["red"] }),
      errorType: "m2m_search_filter_name_not_recognized"
    },
    {
      case: "a filter without a name",
      body: operands({ filter_value: ["a"] }),
      errorType: "m2m_search_missing_filter_name"
    },
    {
      case: "a filter name that is not a string",
      body: operands({ filter_name: 3, filter_value: ["a"] }),
      errorType: "m2m_search_filter_name_must_be_string"
    },
    {
      case: "a filter without a value",
      body: operands({ filter_name: "scopes" }),
      errorType: "m2m_search_missing_filter_value"
    },
    {
      case: "a filter value that is not a list of strings",
      body: operands({ filter_name: "client_id", filter_value: "a" }),
      errorType: "m2m_search_expected_array_of_strings"
    },
    { case: "a limit of 0", body: { limit: 0 }, errorType: "bad_request" },
    { case: "a limit over 1000", body: { limit: 1001 }, errorType: "bad_request" },
    { case: "a cursor that is not a string", body: { cursor: 5 }, errorType: "bad_request" },
    { case: "an unknown operator", body: { query: { operator: "XOR", operands: [] } }, errorType: "bad_request" }
  ])("refuses $case with $errorType", ({ body, errorType }) =>
    Effect.gen(function*() {
      expectError(yield* send("POST", "/v1/m2m/clients/search", { json: body }), 400, errorType)
    }).pipe(provideEmulator()))
})

describe("secrets.rotateStart: POST /v1/m2m/clients/{client_id}/secrets/rotate/start", () => {
  it.live("answers the next secret, the only time it is shown; both secrets work", () =>
    Effect.gen(function*() {
      const created = yield* seedClient("rotating")
      const answer = yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate/start", { json: {} })
      expectSuccess(answer, ["m2m_client"])
      const client = answer.body.m2m_client
      expectClientShape(client, ["next_client_secret"])
      expect(client.next_client_secret_last_four).toBe(client.next_client_secret.slice(-4))
      const credentials = yield* ClientCredentials
      expect(yield* credentials.verify("rotating", Redacted.make(client.next_client_secret))).toBe(true)
      expect(yield* credentials.verify("rotating", created.m2m_client.client_secret)).toBe(true)
    }).pipe(provideEmulator()))

  it.live("accepts a request with no body at all", () =>
    Effect.gen(function*() {
      yield* seedClient("rotating")
      expect((yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate/start")).status).toBe(200)
    }).pipe(provideEmulator()))

  it.live("refuses a second start with m2m_client_already_rotating_secret", () =>
    Effect.gen(function*() {
      yield* seedClient("rotating")
      yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate/start", { json: {} })
      const again = yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate/start", { json: {} })
      expectError(again, 400, "m2m_client_already_rotating_secret")
    }).pipe(provideEmulator()))

  it.live("answers 404 m2m_client_not_found for an unknown id", () =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/v1/m2m/clients/nobody/secrets/rotate/start", { json: {} })
      expectError(answer, 404, "m2m_client_not_found")
    }).pipe(provideEmulator()))
})

describe("secrets.rotateCancel: POST /v1/m2m/clients/{client_id}/secrets/rotate/cancel", () => {
  it.live("discards the next secret", () =>
    Effect.gen(function*() {
      yield* seedClient("rotating")
      const started = yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate/start", { json: {} })
      const answer = yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate/cancel", { json: {} })
      expectSuccess(answer, ["m2m_client"])
      expectClientShape(answer.body.m2m_client)
      expect(answer.body.m2m_client.next_client_secret_last_four).toBeNull()
      const credentials = yield* ClientCredentials
      const next = Redacted.make(started.body.m2m_client.next_client_secret as string)
      expect(yield* credentials.verify("rotating", next)).toBe(false)
    }).pipe(provideEmulator()))

  it.live("refuses without a rotation in progress: m2m_client_not_rotating_secret", () =>
    Effect.gen(function*() {
      yield* seedClient("steady")
      const answer = yield* send("POST", "/v1/m2m/clients/steady/secrets/rotate/cancel", { json: {} })
      expectError(answer, 400, "m2m_client_not_rotating_secret")
    }).pipe(provideEmulator()))
})

describe("secrets.rotate: POST /v1/m2m/clients/{client_id}/secrets/rotate", () => {
  it.live("makes the next secret the current one; the old one stops working", () =>
    Effect.gen(function*() {
      const created = yield* seedClient("rotating")
      const started = yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate/start", { json: {} })
      const answer = yield* send("POST", "/v1/m2m/clients/rotating/secrets/rotate", { json: {} })
      expectSuccess(answer, ["m2m_client"])
      expectClientShape(answer.body.m2m_client)
      expect(answer.body.m2m_client).toMatchObject({
        client_secret_last_four: started.body.m2m_client.next_client_secret_last_four,
        next_client_secret_last_four: null
      })
      const credentials = yield* ClientCredentials
      expect(yield* credentials.verify("rotating", created.m2m_client.client_secret)).toBe(false)
      const next = Redacted.make(started.body.m2m_client.next_client_secret as string)
      expect(yield* credentials.verify("rotating", next)).toBe(true)
    }).pipe(provideEmulator()))

  it.live("refuses without a rotation in progress: m2m_client_not_rotating_secret", () =>
    Effect.gen(function*() {
      yield* seedClient("steady")
      const answer = yield* send("POST", "/v1/m2m/clients/steady/secrets/rotate", { json: {} })
      expectError(answer, 400, "m2m_client_not_rotating_secret")
    }).pipe(provideEmulator()))
})
