import { FetchHttpClient, HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import type { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { M2MTokenVerifier } from "@stytch-effect/core"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import type { Redacted } from "effect"
import * as Http from "node:http"
import { HttpM2MTokenVerifier } from "../src/index.js"
import { projectId, signingKey, token } from "./signing.js"

type Answer = { readonly status: number; readonly body: string } | "refuse"

/** An `HttpClient` that answers every request from `answer` and keeps what it was sent. */
const keySetServer = (answer: () => Answer) => {
  const sent: Array<HttpClientRequest.HttpClientRequest> = []
  const client = HttpClient.make((request) =>
    Effect.suspend(() => {
      sent.push(request)
      const reply = answer()
      if (reply === "refuse") {
        return Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: "ECONNREFUSED" }))
      }
      return Effect.succeed(HttpClientResponse.fromWeb(
        request,
        new Response(reply.body, { status: reply.status, headers: { "content-type": "application/json" } })
      ))
    })
  )
  return { sent, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

const verify = (options: HttpM2MTokenVerifier.Options, raw: Effect.Effect<Redacted.Redacted<string>>) =>
  Effect.gen(function*() {
    const verifier = yield* HttpM2MTokenVerifier.make(options)
    return yield* Effect.either(verifier.authenticate(yield* raw))
  })

describe("HttpM2MTokenVerifier", () => {
  it.scopedLive("never follows a redirect to keys on another origin, even over fetch", () =>
    Effect.gen(function*() {
      const key = yield* signingKey("jwk-test-a")
      const listen = (handler: Http.RequestListener) =>
        Effect.acquireRelease(
          Effect.async<Http.Server>((resume) => {
            const server = Http.createServer(handler).listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
          }),
          (server) => Effect.sync(() => server.close())
        ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as { port: number }).port}`))
      let fetchedElsewhere = 0
      const elsewhere = yield* listen((_, response) => {
        fetchedElsewhere++
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(key.jwks))
      })
      const baseUrl = yield* listen((request, response) =>
        response.writeHead(302, { location: `${elsewhere}${request.url}` }).end()
      )
      const result = yield* verify({ projectId, baseUrl }, token(key)).pipe(Effect.provide(FetchHttpClient.layer))
      expect(result._tag === "Left" && result.left._tag).toBe("KeysUnavailable")
      expect(result._tag === "Left" && result.left.message).toContain("HTTP 302")
      expect(fetchedElsewhere).toBe(0)
    }))

  it.scopedLive("fetches the project's key set from its base URL, with no credentials and no trace headers", () =>
    Effect.gen(function*() {
      const key = yield* signingKey("jwk-test-a")
      const server = keySetServer(() => ({ status: 200, body: JSON.stringify(key.jwks) }))
      const result = yield* verify({ projectId }, token(key)).pipe(Effect.provide(server.layer))
      expect(result._tag).toBe("Right")
      expect(server.sent).toHaveLength(1)
      expect(server.sent[0]!.url).toBe(`https://test.stytch.com/v1/sessions/jwks/${projectId}`)
      expect(Object.keys(server.sent[0]!.headers).sort()).toEqual(["accept", "user-agent"])
    }))

  it.scopedLive("on a custom domain, fetches from it and accepts its issuer beside Stytch's", () =>
    Effect.gen(function*() {
      const key = yield* signingKey("jwk-test-a")
      const server = keySetServer(() => ({ status: 200, body: JSON.stringify(key.jwks) }))
      const options = { projectId, baseUrl: "https://auth.example.com/ignored/path" }
      const custom = yield* verify(options, token(key, { iss: "https://auth.example.com" })).pipe(
        Effect.provide(server.layer)
      )
      expect(custom._tag).toBe("Right")
      const stytch = yield* verify(options, token(key)).pipe(Effect.provide(server.layer))
      expect(stytch._tag).toBe("Right")
      expect(server.sent[0]!.url).toBe(`https://auth.example.com/v1/sessions/jwks/${projectId}`)
    }))

  it.scopedLive.each(
    [
      ["a 503", { status: 503, body: "{}" }, "the key set answered HTTP 503"],
      ["an HTML page", { status: 200, body: "<html>maintenance</html>" }, "the key set's answer is not a JWKS"],
      [
        "a body that is not a key set",
        { status: 200, body: "{\"keys\":\"none\"}" },
        "the key set's answer is not a JWKS"
      ],
      [
        "a key set without RS256 keys",
        { status: 200, body: "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\"}]}" },
        "the key set holds no usable RS256 key"
      ],
      ["a refused connection", "refuse", "the key set could not be reached"]
    ] as const
  )("answers KeysUnavailable, not an invalid token, for %s", ([, answer, reason]) =>
    Effect.gen(function*() {
      const key = yield* signingKey("jwk-test-a")
      const server = keySetServer(() => answer)
      const result = yield* verify({ projectId }, token(key)).pipe(Effect.provide(server.layer))
      expect(result).toMatchObject({ _tag: "Left", left: { _tag: "KeysUnavailable", reason } })
    }))

  it.scopedLive.each(
    [
      ["a null entry", null],
      ["a kid that is a number", { kty: "RSA", kid: 5 }],
      ["key_ops that is a string", { kty: "EC", kid: "jwk-test-ec", key_ops: "verify" }]
    ] as const
  )("verifies with the good keys of a set that also holds %s", ([, bad]) =>
    Effect.gen(function*() {
      const key = yield* signingKey("jwk-test-a")
      const body = JSON.stringify({ keys: [bad, ...key.jwks.keys] })
      const server = keySetServer(() => ({ status: 200, body }))
      const result = yield* verify({ projectId }, token(key)).pipe(Effect.provide(server.layer))
      expect(result._tag).toBe("Right")
    }))

  it.scopedLive("uses keys given up front without fetching", () =>
    Effect.gen(function*() {
      const key = yield* signingKey("jwk-test-a")
      const server = keySetServer(() => ({ status: 500, body: "{}" }))
      const result = yield* verify({ projectId, keys: key.jwks }, token(key)).pipe(Effect.provide(server.layer))
      expect(result._tag).toBe("Right")
      expect(server.sent).toHaveLength(0)
    }))

  it.effect("layerConfig reads the project and base URL, never a secret, and names a bad variable", () =>
    Effect.gen(function*() {
      const server = keySetServer(() => ({ status: 500, body: "{}" }))
      const built = (env: Record<string, string>) =>
        Effect.scoped(Layer.build(HttpM2MTokenVerifier.layerConfig())).pipe(
          Effect.provide(server.layer),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
          Effect.map((context) => Context.getOption(context, M2MTokenVerifier)._tag === "Some"),
          Effect.either
        )
      expect(yield* built({ STYTCH_PROJECT_ID: projectId })).toMatchObject({ _tag: "Right", right: true })
      const missing = yield* built({})
      expect(missing._tag === "Left" && String(missing.left)).toContain("STYTCH_PROJECT_ID")
      const plain = yield* built({ STYTCH_PROJECT_ID: projectId, STYTCH_BASE_URL: "http://auth.example.com" })
      expect(plain._tag === "Left" && String(plain.left)).toContain("STYTCH_BASE_URL")
    }))
})
