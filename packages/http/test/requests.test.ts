/**
 * What reaches the wire: each operation's method, path and body, the headers every request carries,
 * and where requests go.
 */
import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { ConfigError, Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { HttpM2MClients } from "../src/index.js"
import { basicAuth, ok, recordSpans, type Sent, wireClient, withFake } from "./fakeStytch.js"

const answers = {
  create: ok({ m2m_client: wireClient({ client_secret: "generated-secret-1234" }) }),
  get: ok({ m2m_client: wireClient() }),
  update: ok({ m2m_client: wireClient() }),
  delete: ok({ client_id: "m2m-client-test-1" }),
  search: ok({ m2m_clients: [wireClient()], results_metadata: { total: 1, next_cursor: null } }),
  rotateStart: ok({ m2m_client: wireClient({ next_client_secret: "next-secret-5678" }) }),
  rotateCancel: ok({ m2m_client: wireClient() }),
  rotate: ok({ m2m_client: wireClient() })
}

/** Sends one request through the layer and returns it as the fake saw it. */
const sentBy = (
  answer: keyof typeof answers,
  call: (clients: M2MClients.Service) => Effect.Effect<unknown, unknown>,
  options: Partial<HttpM2MClients.Options> = {}
): Effect.Effect<Sent, ConfigError.ConfigError> =>
  withFake(() => answers[answer], (clients, fake) => Effect.as(Effect.orDie(call(clients)), fake.sent), options).pipe(
    Effect.map((sent) => {
      expect(sent).toHaveLength(1)
      return sent[0]!
    })
  )

const cases: ReadonlyArray<{
  readonly name: string
  readonly answer: keyof typeof answers
  readonly call: (clients: M2MClients.Service) => Effect.Effect<unknown, unknown>
  readonly method: string
  readonly path: string
  readonly body: unknown
}> = [
  {
    name: "create with only scopes",
    answer: "create",
    call: (c) => c.create({ scopes: ["read:users"] }),
    method: "POST",
    path: "/v1/m2m/clients",
    body: { scopes: ["read:users"], client_id: expect.stringMatching(/^m2m-client-test-[0-9a-f-]{36}$/) }
  },
  {
    name: "create with every field",
    answer: "create",
    call: (c) =>
      c.create({
        scopes: ["read:users", "write:users"],
        client_id: "billing-1",
        client_secret: Redacted.make("a-secret-of-my-own"),
        client_name: "billing",
        client_description: "the billing service",
        trusted_metadata: { team: "payments", tier: 2 }
      }),
    method: "POST",
    path: "/v1/m2m/clients",
    body: {
      scopes: ["read:users", "write:users"],
      client_id: "billing-1",
      client_secret: "a-secret-of-my-own",
      client_name: "billing",
      client_description: "the billing service",
      trusted_metadata: { team: "payments", tier: 2 }
    }
  },
  {
    name: "get",
    answer: "get",
    call: (c) => c.get({ client_id: "m2m-client-test-1" }),
    method: "GET",
    path: "/v1/m2m/clients/m2m-client-test-1",
    body: undefined
  },
  {
    name: "update with one field",
    answer: "update",
    call: (c) => c.update({ client_id: "m2m-client-test-1", status: "inactive" }),
    method: "PUT",
    path: "/v1/m2m/clients/m2m-client-test-1",
    body: { status: "inactive" }
  },
  {
    name: "delete",
    answer: "delete",
    call: (c) => c.delete({ client_id: "m2m-client-test-1" }),
    method: "DELETE",
    path: "/v1/m2m/clients/m2m-client-test-1",
    // As the official SDK sends it.
    body: {}
  },
  {
    name: "search with nothing",
    answer: "search",
    call: (c) => c.search({}),
    method: "POST",
    path: "/v1/m2m/clients/search",
    body: {}
  },
  {
    name: "search with a query",
    answer: "search",
    call: (c) =>
      c.search({
        cursor: "cursor-1",
        limit: 10,
        query: { operator: "AND", operands: [{ filter_name: "scopes", filter_value: ["read:users"] }] }
      }),
    method: "POST",
    path: "/v1/m2m/clients/search",
    body: {
      cursor: "cursor-1",
      limit: 10,
      query: { operator: "AND", operands: [{ filter_name: "scopes", filter_value: ["read:users"] }] }
    }
  },
  {
    name: "secrets.rotateStart",
    answer: "rotateStart",
    call: (c) => c.secrets.rotateStart({ client_id: "m2m-client-test-1" }),
    method: "POST",
    path: "/v1/m2m/clients/m2m-client-test-1/secrets/rotate/start",
    body: {}
  },
  {
    name: "secrets.rotateCancel",
    answer: "rotateCancel",
    call: (c) => c.secrets.rotateCancel({ client_id: "m2m-client-test-1" }),
    method: "POST",
    path: "/v1/m2m/clients/m2m-client-test-1/secrets/rotate/cancel",
    body: {}
  },
  {
    name: "secrets.rotate",
    answer: "rotate",
    call: (c) => c.secrets.rotate({ client_id: "m2m-client-test-1" }),
    method: "POST",
    path: "/v1/m2m/clients/m2m-client-test-1/secrets/rotate",
    body: {}
  }
]

describe("requests", () => {
  describe.each(cases)("$name", ({ answer, body, call, method, path }) => {
    it.effect(`is ${method} ${path}`, () =>
      Effect.gen(function*() {
        const sent = yield* sentBy(answer, call)
        expect(sent.method).toBe(method)
        expect(sent.url.origin).toBe("https://test.stytch.com")
        expect(sent.url.pathname).toBe(path)
        expect(sent.url.search).toBe("")
        expect(sent.body).toStrictEqual(body)
      }))

    it.effect("carries Basic auth, JSON headers and our user agent, and no trace headers", () =>
      Effect.gen(function*() {
        const sent = yield* sentBy(answer, (clients) => Effect.withSpan(call(clients), "app"))
        expect(sent.headers).toStrictEqual({
          authorization: basicAuth,
          accept: "application/json",
          "user-agent": HttpM2MClients.userAgent,
          ...(body === undefined ? {} : {
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(JSON.stringify(sent.body)))
          })
        })
      }))
  })

  it("names this package and its version in the user agent", () => {
    const { name, version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    expect(name).toBe("@stytch-effect/http")
    expect(HttpM2MClients.userAgent).toBe(`stytch-effect-http/${version}`)
  })

  it.effect("sends trace headers only when asked", () =>
    Effect.gen(function*() {
      const sent = yield* sentBy(
        "get",
        (clients) => Effect.withSpan(clients.get({ client_id: "a" }), "app"),
        { tracerPropagation: true }
      )
      expect(sent.headers).toHaveProperty("traceparent")
      expect(sent.headers).toHaveProperty("b3")
    }))
})

describe("client ids in paths", () => {
  it.effect.each(
    [
      ["../search", "..%2Fsearch"],
      ["a/b", "a%2Fb"],
      ["%", "%25"],
      ["100%25", "100%2525"],
      ["with space", "with%20space"],
      ["a?b#c", "a%3Fb%23c"],
      ["ünïcødé-客户", "%C3%BCn%C3%AFc%C3%B8d%C3%A9-%E5%AE%A2%E6%88%B7"]
    ] as const
  )("%s stays one segment", ([clientId, segment]) =>
    Effect.gen(function*() {
      for (
        const [call, suffix] of [
          [(c: M2MClients.Service) => c.get({ client_id: clientId }), ""],
          [(c: M2MClients.Service) => c.secrets.rotateStart({ client_id: clientId }), "/secrets/rotate/start"]
        ] as const
      ) {
        const sent = yield* sentBy(suffix === "" ? "get" : "rotateStart", call)
        expect(sent.url.pathname).toBe(`/v1/m2m/clients/${segment}${suffix}`)
        expect(decodeURIComponent(sent.url.pathname.split("/")[4]!)).toBe(clientId)
      }
    }))

  it.effect.each([".", ".."])(
    "%s is refused before anything is sent, as URLs navigate by it",
    (clientId) =>
      withFake(() => answers.get, (clients, fake) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(clients.get({ client_id: clientId }))
          expect(error._tag).toBe("InvalidRequest")
          expect(error.message).toBe("M2MClients.get: client_id must not be \".\" or \"..\"")
          expect(fake.sent).toHaveLength(0)
        }))
  )
})

describe("base URL", () => {
  it.effect.each(
    [
      ["project-live-123", undefined, "https://api.stytch.com"],
      ["project-test-123", undefined, "https://test.stytch.com"],
      ["something-else", undefined, "https://test.stytch.com"],
      ["project-live-123", "https://login.example.com/some/path?q=1#x", "https://login.example.com"],
      ["project-live-123", "https://user:pw@login.example.com:8443/", "https://login.example.com:8443"],
      ["project-test-123", "http://127.0.0.1:4010", "http://127.0.0.1:4010"],
      ["project-test-123", "http://127.9.8.7:4010/v1", "http://127.9.8.7:4010"],
      ["project-test-123", "http://localhost:4010", "http://localhost:4010"],
      ["project-test-123", "http://[::1]:4010", "http://[::1]:4010"]
    ] as const
  )("%s with %s sends to %s", ([projectId, baseUrl, origin]) =>
    Effect.gen(function*() {
      const sent = yield* sentBy("get", (c) => c.get({ client_id: "a" }), { projectId, baseUrl })
      expect(sent.url.href).toBe(`${origin}/v1/m2m/clients/a`)
    }))

  it.effect.each([
    "http://example.com",
    "http://10.0.0.1:4010",
    "http://127.0.0.1.example.com",
    "http://localhost.example.com",
    "ftp://127.0.0.1",
    "api.stytch.com",
    "not a url"
  ])("%s is refused when the layer is built", (baseUrl) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withFake(() => answers.get, () => Effect.void, { baseUrl }))
      expect(ConfigError.isConfigError(error) && error._op).toBe("InvalidData")
      expect(String(error)).toMatch(/^\(Invalid data at baseUrl: "The base URL must (use https|be an absolute URL)/)
    }))
})

describe("spans", () => {
  it.effect("one span per operation, with the client id, HTTP status and attempts", () =>
    Effect.gen(function*() {
      const { spans } = yield* recordSpans(
        withFake(() => answers.rotateStart, (c) => c.secrets.rotateStart({ client_id: "m2m-client-test-1" }))
      )
      const span = spans.find((span) => span.name === "M2MClients.secrets.rotateStart")!
      expect(Object.fromEntries(span.attributes)).toStrictEqual({
        "m2m.client_id": "m2m-client-test-1",
        "m2m.attempts": 1,
        "http.response.status_code": 200
      })
    }))

  it.effect("the operation's span is the parent of the request's, and a child of the caller's", () =>
    Effect.gen(function*() {
      // A span the app's own HttpClient opens for the request, as a tracing decorator would.
      const { spans } = yield* recordSpans(
        withFake(
          () => answers.get,
          (clients) => Effect.withSpan(clients.get({ client_id: "m2m-client-test-1" }), "app"),
          { requestSpans: true }
        ).pipe(Effect.withSpan("outer"))
      )
      const named = (name: string) => spans.find((span) => span.name === name)!
      const parentOf = (name: string) => {
        const parent = named(name).parent
        return parent._tag === "Some" && parent.value._tag === "Span" ? parent.value.name : undefined
      }
      expect(parentOf("M2MClients.get")).toBe("app")
      expect(parentOf("http.client GET")).toBe("M2MClients.get")
      expect(named("http.client GET").traceId).toBe(named("app").traceId)
    }))
})
