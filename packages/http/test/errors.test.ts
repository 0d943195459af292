/**
 * How answers that are not a success become core's tagged errors, and that no error or span carries a
 * secret.
 */
import { describe, expect, it } from "@effect/vitest"
import type { M2MClients } from "@stytch-effect/core"
import { ApiError, errorTypes, RateLimited } from "@stytch-effect/core"
import { Cause, Effect, Exit, Redacted } from "effect"
import type { Reply } from "./fakeStytch.js"
import {
  basicAuth,
  json,
  ok,
  projectSecret,
  recordSpans,
  runOnTestClock,
  stytchError,
  wireClient,
  withFake,
  withFakeTokens
} from "./fakeStytch.js"

const documentedStatus: Readonly<Record<string, number>> = {
  unauthorized_credentials: 401,
  invalid_secret_authentication: 401,
  invalid_project_id_authentication: 401,
  too_many_requests: 429,
  internal_server_error: 500,
  server_unavailable: 503,
  m2m_client_not_found: 404,
  duplicate_m2m_client_id: 409
}

/** An operation that can meet each error class. */
const operationFor: Readonly<Record<string, (c: M2MClients.Service) => Effect.Effect<unknown, unknown>>> = {
  ClientNotFound: (c) => c.get({ client_id: "a" }),
  DuplicateClientId: (c) => c.create({ scopes: [], client_id: "a" }),
  InvalidClientSecret: (c) => c.create({ scopes: [], client_secret: Redacted.make("weak-secret") }),
  InvalidScope: (c) => c.update({ client_id: "a", scopes: ["x"] }),
  SecretAlreadyRotating: (c) => c.secrets.rotateStart({ client_id: "a" }),
  SecretNotRotating: (c) => c.secrets.rotate({ client_id: "a" }),
  InvalidSearchQuery: (c) => c.search({}),
  Unauthorized: (c) => c.get({ client_id: "a" }),
  RateLimited: (c) => c.get({ client_id: "a" }),
  ServerError: (c) => c.get({ client_id: "a" })
}

/** The token endpoint's own errors, which only a token request meets. */
const tokenErrors = new Set(["InvalidClientCredentials", "ScopeNotGranted", "ClientInactive", "InvalidGrant"])

const tokenFailureOf = (reply: Reply) =>
  withFakeTokens(
    () => reply,
    (tokens) =>
      Effect.flip(tokens.token({ client_id: "m2m-client-test-1", client_secret: Redacted.make("client-secret-x") })),
    { retry: false }
  ).pipe(Effect.map((error) => error as unknown as Record<string, unknown> & { readonly _tag: string }))

/** The error one call fails with, with a single attempt. */
const failureOf = (reply: Reply, call: (c: M2MClients.Service) => Effect.Effect<unknown, unknown>) =>
  withFake(() => reply, (clients) => Effect.flip(call(clients)), { retry: false }).pipe(
    Effect.map((error) => error as Record<string, unknown> & { readonly _tag: string; readonly message: string })
  )

describe("API errors", () => {
  it.effect.each(Object.entries(errorTypes))("%s becomes its class", ([errorType, Class]) =>
    Effect.gen(function*() {
      const status = documentedStatus[errorType] ?? 400
      const reply = stytchError(status, errorType, { error_details: { field: "scopes" } })
      const error = tokenErrors.has(Class.name)
        ? yield* tokenFailureOf(reply)
        : yield* failureOf(reply, operationFor[Class.name]!)
      expect(error).toBeInstanceOf(Class)
      expect({ ...error }).toStrictEqual({
        _tag: Class.name,
        status_code: status,
        request_id: `request-id-test-${errorType}`,
        error_type: errorType,
        error_message: `${errorType} happened`,
        error_url: `https://stytch.com/docs/api/errors/${status}`,
        error_details: { field: "scopes" },
        attempts: 1
      })
    }))

  it.effect("an unknown error_type becomes an ApiError keeping the type", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(stytchError(400, "brand_new_error"), (c) => c.get({ client_id: "a" }))
      expect(error).toBeInstanceOf(ApiError)
      expect(error.error_type).toBe("brand_new_error")
    }))

  it.effect("an error the operation cannot produce becomes an ApiError", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(stytchError(404, "m2m_client_not_found"), (c) => c.search({}))
      expect(error).toBeInstanceOf(ApiError)
      expect(error.error_type).toBe("m2m_client_not_found")
    }))

  it.effect("an OAuth2-shaped body maps onto the same fields", () =>
    Effect.gen(function*() {
      const error = yield* tokenFailureOf(
        json(401, { error: "invalid_client", error_description: "bad credentials", error_uri: "https://x/y" })
      )
      expect(error._tag).toBe("InvalidClientCredentials")
      expect(error).toMatchObject({
        status_code: 401,
        error_type: "invalid_client",
        error_message: "bad credentials",
        error_url: "https://x/y"
      })
    }))

  it.effect("a 429 keeps Retry-After in milliseconds", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(
        json(429, { error_type: "too_many_requests", error_message: "slow" }, { "retry-after": "7" }),
        (c) => c.get({ client_id: "a" })
      )
      expect(error).toBeInstanceOf(RateLimited)
      expect(error.retry_after_millis).toBe(7000)
    }))
})

const stytchRequestId = "request-id-test-3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b"

describe("an error body that shares only the secret's public shape", () => {
  it.effect("is kept: a request id that begins like the project secret is not a quote of it", () =>
    Effect.gen(function*() {
      // The project secret is `secret-test-PROJECT-…`: this request id shares `-test-PR` with it.
      const reply = stytchError(404, "m2m_client_not_found", { request_id: "request-id-test-PRxx-0000" })
      const error = yield* failureOf(reply, (c) => c.get({ client_id: "a" }))
      expect(error._tag).toBe("ClientNotFound")
      expect(error["request_id"]).toBe("request-id-test-PRxx-0000")
    }))

  it.effect("is dropped once it quotes 8 characters of what follows", () =>
    Effect.gen(function*() {
      const reply = stytchError(404, "m2m_client_not_found", { error_message: "no PROJECT-S here" })
      const error = yield* failureOf(reply, (c) => c.get({ client_id: "a" }))
      expect(error).toMatchObject({ _tag: "ApiError", error_type: "unparsed_error_body" })
    }))
})

describe("answers that are not Stytch's JSON", () => {
  it.effect.each(
    [
      [502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", "ServerError"],
      [503, "text/plain", "", "ServerError"],
      [504, "application/json", "{\"message\":\"Endpoint request timed out\"}", "ServerError"],
      [429, "text/plain", "Too Many Requests", "RateLimited"],
      [401, "text/html", "<h1>401</h1>", "Unauthorized"],
      [403, "text/html", "<h1>Forbidden</h1>", "ApiError"],
      [404, "text/html", "<h1>Not Found</h1>", "ApiError"]
    ] as const
  )("HTTP %i with %s becomes a typed %s, never a defect", ([status, contentType, text, tag]) =>
    Effect.gen(function*() {
      const error = yield* failureOf(
        { status, text, headers: { "content-type": contentType } },
        (c) => c.get({ client_id: "a" })
      )
      expect(error._tag).toBe(tag)
      expect(error).toMatchObject({
        status_code: status,
        error_type: "unparsed_error_body",
        error_message: `the answer is not a JSON error body (${contentType})`
      })
    }))

  it.effect("a truncated success is a MalformedResponse", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(
        { status: 200, text: "{\"m2m_client\":{\"client_id\":\"a\",\"client_secret\":\"very-secret-valu" },
        (c) => c.create({ scopes: [], client_id: "a" })
      )
      expect(error._tag).toBe("MalformedResponse")
      expect(error.message).toBe(
        "M2MClients.create: malformed response (HTTP 200): the body is not JSON; client a may exist or may " +
          "still appear: repeat the create with this client_id to find out"
      )
    }))

  it.effect("a success of the wrong shape is a MalformedResponse naming the field, not its value", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(
        json(200, {
          request_id: stytchRequestId,
          status_code: 200,
          m2m_client: wireClient({ client_secret: ["secret-in-an-array"] })
        }),
        (c) => c.create({ scopes: [], client_id: "billing" })
      )
      expect(error._tag).toBe("MalformedResponse")
      expect(error.message).toBe(
        `M2MClients.create: malformed response (HTTP 200, request ${stytchRequestId}): ` +
          "m2m_client.client_secret has an unexpected value in the answer of create; client billing may exist " +
          "or may still appear: repeat the create with this client_id to find out"
      )
    }))

  it.effect("a malformed success keeps its request_id only if it looks like one of Stytch's", () =>
    Effect.gen(function*() {
      // A server that echoes the request back puts whatever it was sent where the request id goes.
      const error = yield* failureOf(
        json(200, { request_id: `Basic ${projectSecret}`, status_code: 200 }),
        (c) => c.get({ client_id: "a" })
      )
      expect(error._tag).toBe("MalformedResponse")
      expect(error).toMatchObject({ request_id: undefined })
      expect(error.message).not.toContain(projectSecret)
    }))

  it.effect.each(["null", "42", "\"text\"", "[]"])(
    "a success whose body is %s is a MalformedResponse",
    (body) =>
      Effect.gen(function*() {
        const error = yield* failureOf({ status: 200, text: body }, (c) => c.get({ client_id: "a" }))
        expect(error._tag).toBe("MalformedResponse")
        expect(error).toMatchObject({ status_code: 200, request_id: undefined })
      })
  )

  it.effect("a 201 is a success too", () =>
    withFake(
      () => json(201, { request_id: "r", status_code: 201, m2m_client: wireClient({ client_secret: "s3cr3t-value" }) }),
      (clients) =>
        Effect.map(clients.create({ scopes: [] }), (response) => {
          expect(Redacted.value(response.m2m_client.client_secret)).toBe("s3cr3t-value")
        })
    ))

  it.effect("a dropped connection is a TransportError with no more than the error code", () =>
    Effect.gen(function*() {
      const error = yield* failureOf("drop", (c) => c.get({ client_id: "a" }))
      expect(error._tag).toBe("TransportError")
      expect(error.message).toBe("M2MClients.get: connection failure: the connection failed (ECONNRESET)")
      expect(Object.keys(error)).toStrictEqual(["operation", "reason", "description", "attempts", "_tag"])
    }))
})

describe("secrets", () => {
  const clientSecret = "client-secret-CALLER-CHOSEN"
  const faults: ReadonlyArray<Reply> = [
    stytchError(400, "insecure_m2m_client_secret"),
    stytchError(500, "internal_server_error"),
    { status: 502, text: "<html></html>" },
    { status: 200, text: `{"m2m_client":{"client_secret":"${clientSecret}` },
    ok({ m2m_client: wireClient({ client_secret: 12345 }) }),
    "drop",
    "refuse",
    "hang"
  ]

  it.effect.each(faults.map((fault, i) => [i, fault] as const))(
    "never reach an error or a span (fault %i)",
    ([, fault]) =>
      Effect.gen(function*() {
        const { exit, spans } = yield* recordSpans(runOnTestClock(
          withFake(
            () => fault,
            (clients) =>
              clients.create({ scopes: ["a"], client_id: "billing", client_secret: Redacted.make(clientSecret) }),
            {
              retry: { times: 1, baseDelay: "1 millis" },
              timeout: "10 millis"
            }
          )
        ))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        const seen = [
          String(error),
          (error as Error).message,
          JSON.stringify(error),
          Cause.pretty(Exit.isFailure(exit) ? exit.cause : Cause.empty),
          ...spans.flatMap((span) => [...span.attributes].map(([key, value]) => `${key}=${String(value)}`))
        ].join("\n")
        expect(seen).not.toContain(projectSecret)
        expect(seen).not.toContain(basicAuth.slice("Basic ".length))
        expect(seen).not.toContain(clientSecret)
        expect(seen).not.toContain("12345")
      })
  )
})
