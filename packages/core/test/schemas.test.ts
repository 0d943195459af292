import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, FastCheck, ParseResult, Redacted, Schema } from "effect"
import {
  M2MClient,
  M2MClientsCreateRequest,
  M2MClientsCreateResponse,
  M2MClientsDeleteResponse,
  M2MClientsGetResponse,
  M2MClientsSearchRequest,
  M2MClientsSearchResponse,
  M2MClientsSecretsRotateCancelResponse,
  M2MClientsSecretsRotateResponse,
  M2MClientsSecretsRotateStartResponse,
  M2MClientsUpdateRequest,
  M2MClientsUpdateResponse
} from "../src/index.js"

// A client as the spec's M2MClient table describes it, with a field the API may add later.
const wireClient = {
  client_id: "m2m-client-test-d731954d-dab3-4a2b-bdee-07f3ad1be885",
  client_name: "billing-worker",
  client_description: "Reads invoices",
  status: "active",
  scopes: ["read:invoices", "write:invoices"],
  client_secret_last_four: "x9Qz",
  next_client_secret_last_four: null,
  trusted_metadata: { team: "billing", tier: 2, flags: { beta: true } },
  created_at: "2026-11-01T00:00:00Z"
}
const envelope = { request_id: "request-id-test-0f0b6c1e", status_code: 200 }

describe("decoding the spec's bodies", () => {
  it.effect("create answers the client with its secret, which decodes into Redacted", () =>
    Effect.gen(function*() {
      const body = { ...envelope, m2m_client: { ...wireClient, client_secret: "sekret-abcdefgh-x9Qz" } }
      const response = yield* Schema.decodeUnknown(M2MClientsCreateResponse)(body)
      expect(Redacted.isRedacted(response.m2m_client.client_secret)).toBe(true)
      expect(Redacted.value(response.m2m_client.client_secret)).toBe("sekret-abcdefgh-x9Qz")
      expect(response.m2m_client.scopes).toEqual(["read:invoices", "write:invoices"])
      expect(response.request_id).toBe("request-id-test-0f0b6c1e")
      expect(response.status_code).toBe(200)
    }))

  it.effect("get, update, rotateCancel and rotate answer a client", () =>
    Effect.gen(function*() {
      for (
        const Response of [
          M2MClientsGetResponse,
          M2MClientsUpdateResponse,
          M2MClientsSecretsRotateCancelResponse,
          M2MClientsSecretsRotateResponse
        ]
      ) {
        const response = yield* Schema.decodeUnknown(Response)({ ...envelope, m2m_client: wireClient })
        expect(response.m2m_client).toBeInstanceOf(M2MClient)
        expect(response.m2m_client.trusted_metadata).toEqual(wireClient.trusted_metadata)
        // Unknown fields are dropped, never an error.
        expect(response.m2m_client).not.toHaveProperty("created_at")
      }
    }))

  it.effect("rotateStart answers the next secret, which decodes into Redacted", () =>
    Effect.gen(function*() {
      const body = {
        ...envelope,
        m2m_client: { ...wireClient, next_client_secret_last_four: "n3xt", next_client_secret: "next-secret-n3xt" }
      }
      const response = yield* Schema.decodeUnknown(M2MClientsSecretsRotateStartResponse)(body)
      expect(Redacted.value(response.m2m_client.next_client_secret)).toBe("next-secret-n3xt")
      expect(response.m2m_client.next_client_secret_last_four).toBe("n3xt")
    }))

  it.effect("delete answers the id only", () =>
    Effect.gen(function*() {
      const response = yield* Schema.decodeUnknown(M2MClientsDeleteResponse)({ ...envelope, client_id: "abc" })
      expect(response.client_id).toBe("abc")
    }))

  it.effect("search answers a page and its metadata; a null cursor marks the last page", () =>
    Effect.gen(function*() {
      const body = {
        ...envelope,
        m2m_clients: [wireClient, { ...wireClient, client_id: "second" }],
        results_metadata: { total: 2, next_cursor: null }
      }
      const response = yield* Schema.decodeUnknown(M2MClientsSearchResponse)(body)
      expect(response.m2m_clients.map((client) => client.client_id)).toEqual([wireClient.client_id, "second"])
      expect(response.results_metadata).toMatchObject({ total: 2, next_cursor: null })
    }))

  it.effect("fields Stytch documents as nullable decode to their empty value", () =>
    Effect.gen(function*() {
      const { client_description: _, next_client_secret_last_four: __, ...rest } = wireClient
      const client = yield* Schema.decodeUnknown(M2MClient)({ ...rest, client_name: null, trusted_metadata: null })
      expect(client).toMatchObject({
        client_name: "",
        client_description: "",
        next_client_secret_last_four: null,
        trusted_metadata: {}
      })
    }))

  it.effect("metadata written elsewhere decodes as it is: a __proto__ key, and deeper than a request may send", () =>
    Effect.gen(function*() {
      let deep: Record<string, unknown> = {}
      for (let level = 1; level < 200; level++) deep = { a: deep }
      for (const trusted_metadata of [JSON.parse("{\"__proto__\":{\"team\":\"x\"}}"), deep]) {
        const client = yield* Schema.decodeUnknown(M2MClient)({ ...wireClient, trusted_metadata })
        expect(client.trusted_metadata).toBe(trusted_metadata)
        expect(Object.getPrototypeOf(client.trusted_metadata)).toBe(Object.prototype)
      }
    }))

  it.effect("metadata deep enough to overflow a formatter fails to decode, with an error that formats", () =>
    Effect.gen(function*() {
      let deep: Record<string, unknown> = {}
      for (let level = 1; level < 100_000; level++) deep = { a: deep }
      const error = yield* Effect.flip(
        Schema.decodeUnknown(M2MClientsGetResponse)({
          ...envelope,
          m2m_client: { ...wireClient, trusted_metadata: deep }
        })
      )
      const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
      expect(issue?.path).toEqual(["m2m_client", "trusted_metadata"])
      expect(issue?.message).toBe("must be a JSON object or null, at most 1000 levels deep")
    }))

  it.effect("a body of the wrong shape fails to decode", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(
        Schema.decodeUnknown(M2MClientsGetResponse)({ ...envelope, m2m_client: { ...wireClient, status: "deleted" } })
      )
      expect(result._tag).toBe("Left")
    }))
})

describe("encode, send as JSON, decode: gives back the value", () => {
  const schemas = {
    M2MClientsCreateRequest,
    M2MClientsUpdateRequest,
    M2MClientsSearchRequest,
    M2MClientsCreateResponse,
    M2MClientsGetResponse,
    M2MClientsUpdateResponse,
    M2MClientsDeleteResponse,
    M2MClientsSearchResponse,
    M2MClientsSecretsRotateStartResponse,
    M2MClientsSecretsRotateCancelResponse,
    M2MClientsSecretsRotateResponse
  }

  // An optional field given as `undefined` is left out of the body, as the spec asks.
  const withoutUndefined = (value: unknown) =>
    typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype
      ? Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined))
      : value

  it.each(Object.entries(schemas))("%s", (_, schema) => {
    const s = schema as unknown as Schema.Schema<unknown, unknown>
    const equivalent = Schema.equivalence(s)
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(s), (value) => {
        const wire = JSON.parse(JSON.stringify(Schema.encodeSync(s)(value)))
        return equivalent(Schema.decodeUnknownSync(s)(wire), withoutUndefined(value))
      }),
      { numRuns: 50 }
    )
  })
})
