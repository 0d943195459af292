/**
 * HttpM2MTokens over a fake Stytch: the request on the wire, the answer read into an `M2MToken`,
 * retries (a token request is always safe to repeat), the per-attempt timeout, and that the client
 * secret reaches no error, log line or span.
 */
import type { HttpClientRequest } from "@effect/platform"
import { HttpClient, HttpClientError } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { M2MTokens } from "@stytch-effect/core"
import { ConfigProvider, Effect, Exit, Layer, Logger, Redacted, TestClock } from "effect"
import { HttpM2MTokens, UndiciHttpClient } from "../src/index.js"
import type { Reply } from "./fakeStytch.js"
import { fakeStytch, json, projectId, recordSpans, runOnTestClock, withFakeTokens } from "./fakeStytch.js"
import { listen } from "./loopback.js"

const clientSecret = "client-secret-DO-NOT-LEAK-1234"
const request = { client_id: "m2m-client-test-1", client_secret: Redacted.make(clientSecret) }

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const claims = {
  sub: "m2m-client-test-1",
  iss: `stytch.com/${projectId}`,
  aud: [projectId],
  scope: "read:users write:users",
  iat: 1_800_000_000,
  nbf: 1_800_000_000,
  exp: 1_800_003_600
}
const jwt = `${base64url({ alg: "RS256", typ: "JWT", kid: "jwk-test-1" })}.${base64url(claims)}.signature`

const issuedBody = {
  status_code: 200,
  request_id: "request-id-test-token",
  access_token: jwt,
  token_type: "bearer",
  expires_in: 3600
}

const issued = (accessToken = jwt): Reply => json(200, { ...issuedBody, access_token: accessToken })

/** Everything a failure shows a log or a tracer, as text. */
const shown = (value: unknown) =>
  [String(value), JSON.stringify(value, (_, v) => typeof v === "bigint" ? String(v) : v), (value as Error)?.message]
    .join("\n")

describe("the request", () => {
  it.effect("is a form POST to the project's token endpoint, with the client's own credentials and no Authorization", () =>
    withFakeTokens(
      () => issued(),
      (tokens, fake) =>
        Effect.gen(function*() {
          yield* tokens.token({ ...request, scopes: ["read:users", "write:users"], extra: { user_id: "user-1" } })
          const [sent] = fake.sent
          expect(sent!.method).toBe("POST")
          expect(sent!.url.href).toBe(`https://test.stytch.com/v1/public/${projectId}/oauth2/token`)
          expect(sent!.headers["content-type"]).toBe("application/x-www-form-urlencoded")
          expect(sent!.headers["authorization"]).toBeUndefined()
          expect(sent!.body).toEqual({
            grant_type: "client_credentials",
            client_id: "m2m-client-test-1",
            client_secret: clientSecret,
            scope: "read:users write:users",
            user_id: "user-1"
          })
        })
    ))

  it.effect.each([["no scopes", {}], ["an empty list", { scopes: [] }]] as const)(
    "with %s sends no scope at all",
    ([, scopes]) =>
      withFakeTokens(
        () => issued(),
        (tokens, fake) =>
          Effect.gen(function*() {
            yield* tokens.token({ ...request, ...scopes })
            expect(Object.keys(fake.sent[0]!.body as object)).not.toContain("scope")
          })
      )
  )
})

describe("the answer", () => {
  it.effect("becomes an M2MToken read from the JWT's claims", () =>
    withFakeTokens(
      () => issued(),
      (tokens) =>
        Effect.gen(function*() {
          const token = yield* tokens.token(request)
          expect(Redacted.value(token.access_token)).toBe(jwt)
          expect(token).toMatchObject({
            client_id: "m2m-client-test-1",
            scopes: ["read:users", "write:users"],
            expires_in: 3600,
            request_id: "request-id-test-token"
          })
          expect(token.expires_at.epochMillis).toBe(1_800_003_600_000)
        })
    ))

  it.effect("a 2XX whose token is not a readable JWT is a MalformedResponse", () =>
    withFakeTokens(
      () => issued("opaque"),
      (tokens) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(tokens.token(request))
          expect(error._tag).toBe("MalformedResponse")
          expect(error.message).toContain("not a JWT")
        })
    ))

  it.effect("a 2XX with an unreadable token that echoes the secret as its request_id does not keep it", () =>
    withFakeTokens(
      () =>
        json(200, {
          status_code: 200,
          request_id: `echo ${clientSecret}`,
          access_token: "opaque",
          token_type: "bearer",
          expires_in: 3600
        }),
      (tokens) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(tokens.token(request))
          expect(error._tag === "MalformedResponse" && error.request_id).toBeUndefined()
          expect(shown(error)).not.toContain(clientSecret.slice(0, 8))
        })
    ))

  it.effect("a token whose answer echoes the secret as its request_id does not keep it", () =>
    withFakeTokens(
      () => json(200, { ...issuedBody, request_id: `echo ${clientSecret}` }),
      (tokens) =>
        Effect.gen(function*() {
          const token = yield* tokens.token(request)
          expect(token.client_id).toBe("m2m-client-test-1")
          expect(shown(token)).not.toContain(clientSecret.slice(0, 8))
          expect(token.request_id).toBe("")
        })
    ))

  it.effect("a token for another client than the one asked for is a MalformedResponse naming the sub", () =>
    withFakeTokens(
      () => issued(`${base64url({ alg: "RS256" })}.${base64url({ ...claims, sub: "m2m-client-test-2" })}.signature`),
      (tokens) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(tokens.token(request))
          expect(error._tag).toBe("MalformedResponse")
          expect(error.message).toContain("sub")
        })
    ))

  it.effect.each(["-1", "1e400", "\"3600\""])(
    "an expires_in of %s is a MalformedResponse naming it",
    (expiresIn) =>
      withFakeTokens(
        () => ({
          status: 200,
          text: JSON.stringify(issuedBody).replace("\"expires_in\":3600", `"expires_in":${expiresIn}`)
        }),
        (tokens) =>
          Effect.gen(function*() {
            const error = yield* Effect.flip(tokens.token(request))
            expect(error._tag).toBe("MalformedResponse")
            expect(error.message).toContain("expires_in")
          })
      )
  )

  it.effect("a 2XX whose body is an OAuth2 error is a MalformedResponse saying so", () =>
    withFakeTokens(
      () => json(200, { error: "invalid_client", error_description: "bad" }),
      (tokens) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(tokens.token(request))
          expect(error._tag).toBe("MalformedResponse")
          expect(error.message).toContain("an error body")
        })
    ))

  it.effect("a token_type other than bearer is a MalformedResponse", () =>
    withFakeTokens(
      () => json(200, { status_code: 200, request_id: "r", access_token: jwt, token_type: "mac", expires_in: 3600 }),
      (tokens) =>
        Effect.map(Effect.flip(tokens.token(request)), (error) => expect(error._tag).toBe("MalformedResponse"))
    ))
})

describe("retries", () => {
  it.effect.each(["drop", { status: 503 }, { status: 429 }] as const)(
    "%j once, then a token: always repeated, as a token request changes nothing",
    (fault) =>
      withFakeTokens(
        (_, n) => n === 1 ? (fault as Reply) : issued(),
        (tokens, fake) =>
          Effect.gen(function*() {
            const token = yield* runOnTestClock(tokens.token(request))
            expect(token.client_id).toBe("m2m-client-test-1")
            expect(fake.sent).toHaveLength(2)
          })
      )
  )

  it.effect("an invalid_client is not repeated", () =>
    withFakeTokens(
      () => json(400, { error: "invalid_client", error_description: "bad" }),
      (tokens, fake) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(runOnTestClock(tokens.token(request)))
          expect(error._tag).toBe("InvalidClientCredentials")
          expect(fake.sent).toHaveLength(1)
        })
    ))

  it.effect("an attempt with no answer times out, then is retried", () =>
    withFakeTokens(
      (_, n) => n === 1 ? "hang" : issued(),
      (tokens, fake) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(tokens.token(request))
          yield* TestClock.adjust("2 seconds")
          yield* TestClock.adjust("1 second")
          expect((yield* fiber).client_id).toBe("m2m-client-test-1")
          expect(fake.sent).toHaveLength(2)
        }),
      { timeout: "1 second" }
    ))
})

describe("the client secret", () => {
  it.effect.each(["drop", "refuse", "hang", { status: 500, text: "<html>oops</html>" }] as const)(
    "is in no error, log line or span when the call fails with %j",
    (fault) =>
      Effect.gen(function*() {
        const logs: Array<string> = []
        const logger = Logger.make(({ message }) => logs.push(JSON.stringify(message)))
        const { exit, spans } = yield* recordSpans(
          withFakeTokens(
            () => fault as Reply,
            (tokens) => runOnTestClock(tokens.token(request)),
            { timeout: "1 second", retry: { times: 1 } }
          )
        ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(shown(exit)).not.toContain(clientSecret)
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          expect(error).toBeDefined()
          expect(shown(error)).not.toContain(clientSecret)
        }
        expect(logs.join("\n")).not.toContain(clientSecret)
        for (const span of spans) {
          expect(JSON.stringify([...span.attributes])).not.toContain(clientSecret)
          expect(shown(span.status)).not.toContain(clientSecret)
        }
        expect(spans.map((span) => span.name)).toEqual(["M2MTokens.token"])
      })
  )
})

describe("layerConfig", () => {
  it.effect("needs only STYTCH_PROJECT_ID (no project secret) and honours STYTCH_BASE_URL", () =>
    Effect.gen(function*() {
      const fake = fakeStytch(() => issued())
      yield* Effect.flatMap(M2MTokens, (tokens) => tokens.token(request)).pipe(
        Effect.provide(
          HttpM2MTokens.layerConfig().pipe(
            Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client)),
            Layer.provide(
              Layer.setConfigProvider(
                ConfigProvider.fromMap(
                  new Map([["STYTCH_PROJECT_ID", projectId], ["STYTCH_BASE_URL", "http://127.0.0.1:4010"]])
                )
              )
            )
          )
        )
      )
      expect(fake.sent[0]!.url.href).toBe(`http://127.0.0.1:4010/v1/public/${projectId}/oauth2/token`)
    }))

  it.effect("without STYTCH_PROJECT_ID fails with a ConfigError naming it", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(
          HttpM2MTokens.layerConfig().pipe(
            Layer.provide(Layer.succeed(HttpClient.HttpClient, fakeStytch(() => issued()).client)),
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))
          )
        ).pipe(Effect.scoped)
      )
      expect(String(exit)).toContain("STYTCH_PROJECT_ID")
    }))
})

describe("a transport failure that quotes the request", () => {
  it.effect("becomes a TransportError holding only a description, not the failure that held the body", () =>
    Effect.gen(function*() {
      // As Node's SDK keeps the request's raw body in its network error.
      const client = HttpClient.make((sent) =>
        Effect.fail(
          new HttpClientError.RequestError({
            request: sent,
            reason: "Transport",
            cause: Object.assign(new Error(`socket hang up sending ${new TextDecoder().decode(bodyBytes(sent))}`), {
              code: "ECONNRESET"
            })
          })
        )
      )
      const error = yield* Effect.flip(Effect.flatMap(M2MTokens, (tokens) => tokens.token(request))).pipe(
        Effect.provide(
          HttpM2MTokens.layer({ projectId, retry: false }).pipe(
            Layer.provide(Layer.succeed(HttpClient.HttpClient, client))
          )
        )
      )
      expect(error).toMatchObject({ _tag: "TransportError", description: "the connection failed (ECONNRESET)" })
      expect(shown(error)).not.toContain(clientSecret)
      expect(Object.values(error).some((value) => typeof value === "object")).toBe(false)
    }))
})

const bodyBytes = (sent: HttpClientRequest.HttpClientRequest) =>
  sent.body._tag === "Uint8Array" ? sent.body.body : new Uint8Array()

describe("over loopback HTTP", () => {
  it.live("an answer larger than the client reads is an error saying so, and is not repeated", () =>
    Effect.gen(function*() {
      let requests = 0
      const server = yield* listen((_, response) => {
        requests++
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({ ...issuedBody, padding: "x".repeat(4096) }))
      })
      const error = yield* Effect.flip(Effect.flatMap(M2MTokens, (tokens) => tokens.token(request))).pipe(
        Effect.provide(
          HttpM2MTokens.layer({ projectId, baseUrl: server.url, retry: { baseDelay: "1 millis" } }).pipe(
            Layer.provide(UndiciHttpClient.layerWith({ maxBodyBytes: 1024 }))
          )
        )
      )
      expect(error).toMatchObject({ _tag: "TransportError", attempts: 1 })
      expect(error.message).toContain("larger than 1024 bytes")
      expect(requests).toBe(1)
    }).pipe(Effect.scoped))
})
