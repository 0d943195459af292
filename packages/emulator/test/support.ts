/**
 * What the emulator's tests share: an emulator with its own in-memory store on 127.0.0.1, and a way
 * to send it raw requests (any method, path, body, content type and credentials) and read the answer.
 */
import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { Effect, Layer, Redacted } from "effect"
import type { EmulatorOptions } from "../src/index.js"
import { Emulator, layerMemory } from "../src/index.js"

/** A fresh emulator and store per test, and an HTTP client to reach them. */
export const provideEmulator = (options: EmulatorOptions = {}) =>
  Effect.provide(Layer.merge(layerMemory(options), NodeHttpClient.layer))

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  /** The body parsed as JSON (`undefined` if it is not JSON). */
  readonly body: any
}

export interface SendOptions {
  /** A value is sent as JSON; a string is sent as it is (with `contentType`). */
  readonly json?: unknown
  readonly raw?: string
  readonly contentType?: string
  /** The `Authorization` header; the emulator's own credentials by default, `null` for none. */
  readonly authorization?: string | null
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`

export type Method = "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD"

/**
 * Sends one request to the emulator and reads the whole answer, whatever its status; fails only when
 * no answer comes (a dropped connection).
 */
export const attempt = (method: Method, path: string, options: SendOptions = {}) =>
  Effect.gen(function*() {
    const emulator = yield* Emulator
    const client = yield* HttpClient.HttpClient
    const authorization = options.authorization === undefined
      ? basic(emulator.projectId, Redacted.value(emulator.secret))
      : options.authorization
    let request = HttpClientRequest.make(method)(`${emulator.baseUrl}${path}`)
    if (authorization !== null) request = HttpClientRequest.setHeader(request, "authorization", authorization)
    if (options.json !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, options.json)
    if (options.raw !== undefined) {
      request = HttpClientRequest.setBody(
        request,
        HttpBody.text(options.raw, options.contentType ?? "application/json")
      )
    }
    const response = yield* client.execute(request)
    const text = yield* response.text
    let body: unknown = undefined
    try {
      body = JSON.parse(text)
    } catch {
      // Left undefined: the test says whether it expected JSON.
    }
    const answer: Answer = { status: response.status, headers: response.headers, text, body }
    return answer
  }).pipe(Effect.scoped)

/** As `attempt`, for requests that must be answered. */
export const send = (method: Method, path: string, options: SendOptions = {}) =>
  Effect.orDie(attempt(method, path, options))

export const requestIdPattern = /^request-id-test-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const clientFields = [
  "client_description",
  "client_id",
  "client_name",
  "client_secret_last_four",
  "next_client_secret_last_four",
  "scopes",
  "status",
  "trusted_metadata"
]

/** Asserts an M2M client object has exactly Stytch's fields, plus `extra` (a secret) where given. */
export const expectClientShape = (client: unknown, extra: ReadonlyArray<string> = []) =>
  expect(Object.keys(client as object).sort()).toEqual([...clientFields, ...extra].sort())

/** Asserts a Stytch error body: exactly these fields, this status and type, this request's id. */
export const expectError = (answer: Answer, status: number, errorType: string) => {
  expect({ status: answer.status, error_type: answer.body?.error_type }).toEqual({ status, error_type: errorType })
  expect(answer.body.status_code).toBe(status)
  expect(answer.body.request_id).toMatch(requestIdPattern)
  expect(typeof answer.body.error_message).toBe("string")
  expect(answer.body.error_url).toBe(`https://stytch.com/docs/api/errors/${status}#${errorType}`)
  expect(answer.headers["content-type"]).toMatch(/^application\/json/)
}

/** Every client in the store as the store itself sees it, to show a bad request changed nothing. */
export const snapshot = Effect.gen(function*() {
  const clients = yield* M2MClients
  const page = yield* clients.search({ limit: 1000 })
  return page.m2m_clients
}).pipe(Effect.orDie)

/** Creates a client straight in the store, behind the HTTP surface. */
export const seedClient = (client_id: string, scopes: ReadonlyArray<string> = ["read:users"]) =>
  Effect.flatMap(M2MClients, (clients) => clients.create({ client_id, scopes })).pipe(Effect.orDie)
