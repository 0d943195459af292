import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpClient,
  HttpClientRequest,
  HttpRouter,
  HttpServer,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { CurrentClient, KeysUnavailable, M2MTokenVerifier } from "@stytch-effect/core"
import { Effect, Layer, Redacted, Schema } from "effect"
import * as Net from "node:net"
import { bearerToken, M2MAuthentication, MaxTokenAge, requireClient, RequiredScopes } from "../src/index.js"
import type { SigningKey } from "./signing.js"
import { projectId, signingKey, token } from "./signing.js"

class Invoice extends Schema.Class<Invoice>("Invoice")({ id: Schema.String, client_id: Schema.String }) {}

const Api = HttpApi.make("billing").add(
  HttpApiGroup.make("invoices")
    .add(
      HttpApiEndpoint.get("list", "/invoices").addSuccess(Schema.Array(Invoice)).annotate(RequiredScopes, [
        "read:invoices"
      ])
    )
    .add(HttpApiEndpoint.post("create", "/invoices").addSuccess(Invoice).annotate(RequiredScopes, ["write:invoices"]))
    .add(HttpApiEndpoint.post("refund", "/refunds").addSuccess(Invoice).annotate(MaxTokenAge, "1 minute"))
    .middleware(M2MAuthentication)
)

const invoiceFor = Effect.map(CurrentClient, (client) => new Invoice({ id: "inv-1", client_id: client.client_id }))

const InvoicesLive = HttpApiBuilder.group(Api, "invoices", (handlers) =>
  handlers
    .handle("list", () => Effect.map(invoiceFor, (invoice) => [invoice]))
    .handle("create", () => invoiceFor)
    .handle("refund", () => invoiceFor))

// The same app on HttpRouter, without HttpApi.
const Router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/router/invoices",
    requireClient({ requiredScopes: ["read:invoices"] })(
      Effect.flatMap(invoiceFor, (invoice) => HttpServerResponse.json([invoice]))
    )
  )
)

/** A key source that can be broken, to stage a JWKS outage. */
const outage = { broken: false }

const serverWith = (key: SigningKey) => {
  const Verifier = Layer.scoped(
    M2MTokenVerifier,
    M2MTokenVerifier.make({
      projectId,
      keys: key.jwks,
      fetchKeys: Effect.suspend(() =>
        outage.broken
          ? Effect.fail(new KeysUnavailable({ reason: "the key set answered HTTP 503" }))
          : Effect.succeed(key.jwks)
      )
    })
  )
  const ApiLive = HttpApiBuilder.api(Api).pipe(
    Layer.provide(InvoicesLive),
    Layer.provide(M2MAuthentication.layer(Api))
  )
  const RouterLive = HttpApiBuilder.Router.use((router) =>
    Effect.flatMap(
      M2MTokenVerifier,
      (verifier) => router.concat(HttpRouter.provideService(Router, M2MTokenVerifier, verifier))
    )
  )
  return HttpApiBuilder.serve().pipe(
    Layer.provide(RouterLive),
    Layer.provide(ApiLive),
    Layer.provide(Verifier),
    HttpServer.withLogAddress,
    Layer.provideMerge(NodeHttpServer.layerTest)
  )
}

const key = await Effect.runPromise(signingKey("jwk-test-current"))

const send = (method: "GET" | "POST", path: string, authorization?: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const request = HttpClientRequest.make(method)(path).pipe(
      authorization === undefined ? (request) => request : HttpClientRequest.setHeader("authorization", authorization)
    )
    const response = yield* client.execute(request)
    return {
      status: response.status,
      challenge: response.headers["www-authenticate"],
      retryAfter: response.headers["retry-after"],
      body: yield* response.json
    }
  }).pipe(Effect.scoped)

/**
 * A GET with an Authorization header of exactly these bytes (latin1), over a raw socket: fetch would
 * refuse or normalise some of them. Answers the status line and the challenge.
 */
const sendRaw = (path: string, authorization: string) =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const { port } = server.address as HttpServer.TcpAddress
    const answer = yield* Effect.async<string, Error>((resume) => {
      const socket = Net.connect(port, "127.0.0.1")
      const chunks: Array<Buffer> = []
      socket.on("data", (chunk) => chunks.push(chunk))
      socket.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("latin1"))))
      socket.on("error", (error) => resume(Effect.fail(error)))
      socket.end(
        Buffer.from(
          `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: ${authorization}\r\n\r\n`,
          "latin1"
        )
      )
      return Effect.sync(() => socket.destroy())
    })
    const [head = "", body = ""] = answer.split("\r\n\r\n")
    return {
      status: Number(head.split(" ")[1]),
      challenge: /^www-authenticate: (.*)$/im.exec(head)?.[1],
      body
    }
  })

const bearer = (overrides: Record<string, unknown> = {}) =>
  Effect.map(token(key, overrides), (raw) => `Bearer ${Redacted.value(raw)}`)

describe("bearerToken", () => {
  it.each([
    ["Bearer abc.def.ghi", "abc.def.ghi"],
    ["bearer abc.def.ghi", "abc.def.ghi"],
    ["Basic dXNlcjpwYXNz", undefined],
    ["Bearer", undefined],
    ["Bearer ", undefined],
    ["Bearerabc.def.ghi", undefined],
    ["Bearer abc def", undefined],
    ["", undefined]
  ])("%j: %s", (header, expected) => {
    const read = bearerToken(header)
    expect(read._tag === "Some" ? Redacted.value(read.value) : undefined).toBe(expected)
  })
})

layer(serverWith(key), { timeout: 30_000, excludeTestServices: true })("M2MAuthentication over a real server", (it) => {
  it.effect("gives the handler the authenticated client", () =>
    Effect.gen(function*() {
      const answer = yield* send("GET", "/invoices", yield* bearer())
      expect(answer).toMatchObject({ status: 200, body: [{ id: "inv-1", client_id: "m2m-client-test-worker" }] })
    }))

  it.effect.each([
    ["no Authorization header", undefined, "Bearer"],
    ["another scheme", "Basic dXNlcjpwYXNz", "Bearer"],
    ["an empty bearer token", "Bearer ", "Bearer"]
  ])(
    "answers %s with 401 and a bare challenge (RFC 6750 section 3.1)",
    ([, authorization, challenge]) =>
      Effect.gen(function*() {
        const answer = yield* send("GET", "/invoices", authorization)
        expect(answer).toMatchObject({
          status: 401,
          challenge,
          body: { error: "invalid_token", error_description: "No bearer token was sent" }
        })
      })
  )

  it.effect.each([
    ["a tab between scheme and token", "\t"],
    ["a space inside the token", " x"],
    ["quotes and backslashes", "\", error=\"x\\"],
    ["a non-ASCII byte", "\xe9"],
    ["a second credential", ", Basic dXNlcjpwYXNz"]
  ])(
    "answers a Bearer header whose token is malformed (%s) as a malformed token, not as no token",
    ([, damage]) =>
      Effect.gen(function*() {
        const raw = Redacted.value(yield* token(key))
        const authorization = damage === "\t" ? `Bearer\t${raw}` : `Bearer ${raw}${damage}`
        for (const path of ["/invoices", "/router/invoices"]) {
          const answer = yield* sendRaw(path, authorization)
          expect(answer).toMatchObject({
            status: 401,
            challenge: "Bearer error=\"invalid_token\", error_description=\"The access token is malformed\""
          })
          expect(JSON.parse(answer.body)).toMatchObject({ error_description: "The access token is malformed" })
          // No piece of the token, nor the attacker's text, comes back.
          expect(answer.body + answer.challenge).not.toContain(raw.slice(-8))
          expect(answer.challenge).not.toContain("error=\"x")
        }
      })
  )

  it.effect("answers a bad token with 401 invalid_token, describing it without echoing it", () =>
    Effect.gen(function*() {
      const answer = yield* send("GET", "/invoices", "Bearer not.a.jwt")
      expect(answer.status).toBe(401)
      expect(answer.challenge).toBe(
        "Bearer error=\"invalid_token\", error_description=\"The access token is malformed\""
      )
      const expired = yield* send("GET", "/invoices", yield* bearer({ exp: Math.floor(Date.now() / 1000) - 60 }))
      expect(expired).toMatchObject({
        status: 401,
        body: { error: "invalid_token", error_description: "The access token has expired" }
      })
    }))

  it.effect("answers a token without the endpoint's scope with 403 insufficient_scope naming it", () =>
    Effect.gen(function*() {
      const answer = yield* send("POST", "/invoices", yield* bearer())
      expect(answer).toMatchObject({
        status: 403,
        challenge:
          "Bearer error=\"insufficient_scope\", error_description=\"The access token lacks a required scope\", scope=\"write:invoices\"",
        body: { error: "insufficient_scope", scope: "write:invoices" }
      })
      const granted = yield* send("POST", "/invoices", yield* bearer({ scope: "read:invoices write:invoices" }))
      expect(granted.status).toBe(200)
    }))

  it.effect("holds an endpoint to its maximum token age", () =>
    Effect.gen(function*() {
      const now = Math.floor(Date.now() / 1000)
      const old = yield* send("POST", "/refunds", yield* bearer({ iat: now - 120, nbf: now - 120 }))
      expect(old).toMatchObject({
        status: 401,
        body: { error_description: "The access token is too old for this resource" }
      })
      expect((yield* send("POST", "/refunds", yield* bearer())).status).toBe(200)
    }))

  it.effect("answers 503, not 401, when the keys are unavailable for a token's kid", () =>
    Effect.gen(function*() {
      outage.broken = true
      const next = yield* signingKey("jwk-test-next")
      const answer = yield* send("GET", "/invoices", `Bearer ${Redacted.value(yield* token(next))}`)
      outage.broken = false
      expect(answer).toMatchObject({
        status: 503,
        challenge: undefined,
        retryAfter: "30",
        body: { error: "temporarily_unavailable" }
      })
      // Tokens signed by the keys already held keep verifying through the outage.
      expect((yield* send("GET", "/invoices", yield* bearer())).status).toBe(200)
    }))

  it.effect("protects HttpRouter routes the same way with requireClient", () =>
    Effect.gen(function*() {
      expect(yield* send("GET", "/router/invoices", yield* bearer())).toMatchObject({
        status: 200,
        body: [{ client_id: "m2m-client-test-worker" }]
      })
      expect(yield* send("GET", "/router/invoices")).toMatchObject({ status: 401, challenge: "Bearer" })
      expect(yield* send("GET", "/router/invoices", yield* bearer({ scope: "" }))).toMatchObject({
        status: 403,
        challenge:
          "Bearer error=\"insufficient_scope\", error_description=\"The access token lacks a required scope\", scope=\"read:invoices\""
      })
    }))
})

// An api grown after its middleware layer was made: `M2MAuthentication.layer(Api)` knows nothing of
// the admin group's scopes.
const AdminGroup = HttpApiGroup.make("admin")
  .add(HttpApiEndpoint.post("purge", "/admin/purge").addSuccess(Schema.String).annotate(RequiredScopes, ["admin:all"]))
  .middleware(M2MAuthentication)
const GrownApi = Api.add(AdminGroup)

const grownServer = HttpApiBuilder.serve().pipe(
  Layer.provide(
    HttpApiBuilder.api(GrownApi).pipe(
      Layer.provide(InvoicesLive),
      Layer.provide(
        HttpApiBuilder.group(GrownApi, "admin", (handlers) => handlers.handle("purge", () => Effect.succeed("purged")))
      ),
      Layer.provide(M2MAuthentication.layer(Api))
    )
  ),
  Layer.provide(Layer.scoped(M2MTokenVerifier, M2MTokenVerifier.make({ projectId, keys: key.jwks }))),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

layer(grownServer, { timeout: 30_000, excludeTestServices: true })("M2MAuthentication made for another api", (it) => {
  it.effect("never serves an endpoint it has no requirements for: its scopes are not skipped", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const status = (path: string) =>
        Effect.flatMap(
          bearer(),
          (authorization) =>
            client.execute(
              HttpClientRequest.post(path).pipe(HttpClientRequest.setHeader("authorization", authorization))
            )
        )
          .pipe(Effect.map((response) => response.status), Effect.scoped)
      // The token grants read:invoices only.
      expect(yield* status("/admin/purge")).toBe(500)
      expect(yield* status("/refunds")).toBe(200)
    }))
})
