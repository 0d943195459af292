// The token endpoint and the key set over raw HTTP: how credentials may be sent, the OAuth2-shaped
// answers, the key set with no authentication, rotation on demand, and faults on both routes.
import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { generateSigningKey } from "@stytch-effect/memory"
import { Effect, Layer, Redacted } from "effect"
import type { JSONWebKeySet } from "jose"
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose"
import { Emulator } from "../src/index.js"
import type { Answer } from "./support.js"
import { attempt, basic, requestIdPattern, send } from "./support.js"

// Generating an RSA key takes long enough to share two across the file's emulators.
const signingKeys = await Effect.runPromise(Effect.all([generateSigningKey(), generateSigningKey()]))
const provide = Effect.provide(Layer.merge(Emulator.layerMemory({ memory: { signingKeys } }), NodeHttpClient.layer))

const tokenPath = Effect.map(Emulator, (emulator) => `/v1/public/${emulator.projectId}/oauth2/token`)
const jwksPath = Effect.map(Emulator, (emulator) => `/v1/sessions/jwks/${emulator.projectId}`)

/** A client in the store, with its secret. */
const aClient = (scopes: ReadonlyArray<string> = ["read:users", "write:users"]) =>
  Effect.flatMap(M2MClients, (clients) => clients.create({ scopes })).pipe(
    Effect.orDie,
    Effect.map(({ m2m_client }) => ({
      client_id: m2m_client.client_id,
      client_secret: Redacted.value(m2m_client.client_secret)
    }))
  )

const form = (fields: Record<string, string>) => ({
  raw: new URLSearchParams(fields).toString(),
  contentType: "application/x-www-form-urlencoded",
  authorization: null
})

/** Verifies a token against the emulator's key set, fetched over HTTP as a verifier would. */
const verify = (token: string) =>
  Effect.gen(function*() {
    const jwks = yield* send("GET", yield* jwksPath, { authorization: null })
    const emulator = yield* Emulator
    return yield* Effect.promise(() =>
      jwtVerify(token, createLocalJWKSet(jwks.body as JSONWebKeySet), {
        algorithms: ["RS256"],
        issuer: `stytch.com/${emulator.projectId}`,
        audience: emulator.projectId
      }).then((verified) => verified.payload, () => undefined)
    )
  })

const expectOAuth2Error = (answer: Answer, status: number, error: string) => {
  expect({ status: answer.status, error: answer.body?.error }).toEqual({ status, error })
  expect(Object.keys(answer.body).sort()).toEqual(
    ["error", "error_description", "error_uri", "request_id", "status_code"]
  )
  expect(answer.body.status_code).toBe(status)
  expect(answer.body.request_id).toMatch(requestIdPattern)
  expect(answer.body.error_uri).toBe(`https://stytch.com/docs/api/errors/${status}#${error}`)
}

describe("POST /v1/public/{project_id}/oauth2/token", () => {
  it.live.each(
    [
      [
        "a form body",
        (c: { client_id: string; client_secret: string }) =>
          form({ grant_type: "client_credentials", ...c, scope: "read:users" })
      ],
      ["a JSON body", (c: { client_id: string; client_secret: string }) => ({
        json: { grant_type: "client_credentials", ...c, scope: "read:users" },
        authorization: null
      })],
      ["HTTP Basic with a form body", (c: { client_id: string; client_secret: string }) => ({
        ...form({ grant_type: "client_credentials", scope: "read:users" }),
        authorization: basic(c.client_id, c.client_secret)
      })],
      ["HTTP Basic with a JSON body", (c: { client_id: string; client_secret: string }) => ({
        json: { grant_type: "client_credentials", scope: "read:users" },
        authorization: basic(c.client_id, c.client_secret)
      })]
    ] as const
  )("issues a verifiable RS256 JWT for credentials in %s", ([, requestFor]) =>
    Effect.gen(function*() {
      const client = yield* aClient()
      const answer = yield* send("POST", yield* tokenPath, requestFor(client))
      expect(answer.status).toBe(200)
      expect(answer.headers["cache-control"]).toBe("no-store")
      expect(answer.body).toEqual({
        status_code: 200,
        request_id: expect.stringMatching(requestIdPattern),
        access_token: expect.any(String),
        token_type: "bearer",
        expires_in: 3600
      })
      const header = decodeProtectedHeader(answer.body.access_token)
      expect(header).toEqual({ alg: "RS256", typ: "JWT", kid: signingKeys[0].kid })
      const claims = yield* verify(answer.body.access_token)
      expect(claims).toMatchObject({ sub: client.client_id, scope: "read:users" })
      expect(claims!.exp! - claims!.iat!).toBe(3600)
      expect(claims!.nbf).toBe(claims!.iat)
    }).pipe(provide))

  it.live("the body's credentials win over a Basic header, as Ruby and Python send the project's beside them", () =>
    Effect.gen(function*() {
      const client = yield* aClient()
      const answer = yield* send("POST", yield* tokenPath, {
        json: { grant_type: "client_credentials", ...client }
      })
      expect(answer.status).toBe(200)
      expect((yield* verify(answer.body.access_token))?.scope).toBe("read:users write:users")
    }).pipe(provide))

  it.live.each(["", "  "])(
    "a scope of %j (what Ruby and Python send for none) asks every scope the client holds",
    (scope) =>
      Effect.gen(function*() {
        const client = yield* aClient()
        const answer = yield* send(
          "POST",
          yield* tokenPath,
          form({ grant_type: "client_credentials", ...client, scope })
        )
        expect(answer.status).toBe(200)
        expect((yield* verify(answer.body.access_token))?.scope).toBe("read:users write:users")
      }).pipe(provide)
  )

  it.live("extra fields become custom claims", () =>
    Effect.gen(function*() {
      const client = yield* aClient()
      const answer = yield* send(
        "POST",
        yield* tokenPath,
        form({ grant_type: "client_credentials", ...client, user_id: "user-1", sub: "someone-else" })
      )
      const claims = yield* verify(answer.body.access_token)
      expect(claims).toMatchObject({ user_id: "user-1", sub: client.client_id })
    }).pipe(provide))

  it.live.each(
    [
      ["no grant_type", {}, 400, "invalid_request"],
      ["another grant_type", { grant_type: "password" }, 400, "unsupported_grant_type"],
      [
        "a wrong secret",
        { grant_type: "client_credentials", client_secret: "not-the-secret-at-all" },
        400,
        "invalid_client"
      ],
      ["a short secret", { grant_type: "client_credentials", client_secret: "short" }, 400, "invalid_client"],
      ["an unknown client", { grant_type: "client_credentials", client_id: "nobody" }, 400, "invalid_client"],
      [
        "no credentials",
        { grant_type: "client_credentials", client_id: undefined, client_secret: undefined },
        400,
        "invalid_client"
      ],
      [
        "a scope the client lacks",
        { grant_type: "client_credentials", scope: "read:users admin" },
        400,
        "invalid_scope"
      ]
    ] as const
  )("%s is an OAuth2 error that quotes no secret", ([, fields, status, error]) =>
    Effect.gen(function*() {
      const client = yield* aClient()
      const body = Object.fromEntries(
        Object.entries({ ...client, ...fields }).filter(([, value]) => value !== undefined)
      ) as Record<string, string>
      const answer = yield* send("POST", yield* tokenPath, form(body))
      expectOAuth2Error(answer, status, error)
      expect(answer.text).not.toContain(client.client_secret)
      if (error === "invalid_scope") expect(answer.body.error_description).toContain("\"admin\"")
    }).pipe(provide))

  it.live("an inactive client with its right secret is unauthorized_client", () =>
    Effect.gen(function*() {
      const client = yield* aClient()
      yield* Effect.orDie((yield* M2MClients).update({ client_id: client.client_id, status: "inactive" }))
      const answer = yield* send("POST", yield* tokenPath, form({ grant_type: "client_credentials", ...client }))
      expectOAuth2Error(answer, 400, "unauthorized_client")
    }).pipe(provide))

  it.live.each(
    [
      ["text/plain", "grant_type=client_credentials", 415],
      ["application/json", "{not json", 400],
      ["application/json", "[1]", 400],
      ["application/json", "{\"grant_type\":\"client_credentials\",\"client_id\":7}", 400]
    ] as const
  )("a %s body %j is a %i invalid_request", ([contentType, raw, status]) =>
    Effect.gen(function*() {
      const answer = yield* send("POST", yield* tokenPath, { raw, contentType, authorization: null })
      expectOAuth2Error(answer, status, "invalid_request")
    }).pipe(provide))

  it.live("another project's id is a 404; GET is a 405", () =>
    Effect.gen(function*() {
      const other = yield* send("POST", "/v1/public/project-test-other/oauth2/token", form({}))
      expectOAuth2Error(other, 404, "project_not_found")
      const get = yield* send("GET", yield* tokenPath, { authorization: null })
      expectOAuth2Error(get, 405, "method_not_allowed")
      expect(get.headers["allow"]).toBe("POST")
    }).pipe(provide))
})

describe("token requests a strict OAuth2 client or an attacker may send", () => {
  it.live("HTTP Basic credentials count form-urlencoded, as RFC 6749 (2.3.1) has clients send them, or as they are", () =>
    Effect.gen(function*() {
      // Printable ASCII that form encoding changes: `+`, `%`, `&`, `:`, `=` and `#`.
      const secret = "Pa55+w0rd%21&x:y=Zq9#"
      const { m2m_client } = yield* Effect.orDie(
        (yield* M2MClients).create({ scopes: ["read:users"], client_secret: Redacted.make(secret) })
      )
      const encoded = (value: string) => new URLSearchParams({ v: value }).toString().slice(2)
      for (
        const [user, password] of [[encoded(m2m_client.client_id), encoded(secret)], [m2m_client.client_id, secret]]
      ) {
        const answer = yield* send("POST", yield* tokenPath, {
          ...form({ grant_type: "client_credentials" }),
          authorization: basic(user!, password!)
        })
        expect(answer.status).toBe(200)
        expect((yield* verify(answer.body.access_token))?.sub).toBe(m2m_client.client_id)
      }
    }).pipe(provide))

  it.live("HTTP Basic with the same client_id in the body too, as some OAuth2 clients send it, gets a token", () =>
    Effect.gen(function*() {
      const client = yield* aClient()
      const other = yield* aClient()
      const withBodyId = (client_id: string) =>
        Effect.flatMap(tokenPath, (path) =>
          send("POST", path, {
            ...form({ grant_type: "client_credentials", client_id }),
            authorization: basic(client.client_id, client.client_secret)
          }))
      const answer = yield* withBodyId(client.client_id)
      expect(answer.status).toBe(200)
      expect((yield* verify(answer.body.access_token))?.sub).toBe(client.client_id)
      // The body naming another client than the header is no client at all.
      expectOAuth2Error(yield* withBodyId(other.client_id), 400, "invalid_client")
    }).pipe(provide))

  it.live.each(["grant_type", "client_id", "client_secret", "scope"])(
    "a form that repeats %s is invalid_request, whichever value comes last (RFC 6749 3.2)",
    (name) =>
      Effect.gen(function*() {
        const client = yield* aClient()
        const good = { grant_type: "client_credentials", ...client, scope: "read:users" } as Record<string, string>
        const bad = { grant_type: "password", client_id: "nobody", client_secret: "not-the-secret", scope: "admin" }
        const raw = [
          ...Object.entries(good).filter(([key]) => key !== name),
          [name, bad[name as keyof typeof bad]],
          [name, good[name]!]
        ].map(([key, value]) => `${key}=${encodeURIComponent(value!)}`).join("&")
        const answer = yield* send("POST", yield* tokenPath, {
          raw,
          contentType: "application/x-www-form-urlencoded",
          authorization: null
        })
        expectOAuth2Error(answer, 400, "invalid_request")
        expect(answer.text).not.toContain(client.client_secret)
      }).pipe(provide)
  )

  it.live("a body that is not UTF-8 is invalid_request, as malformed JSON is", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      const request = HttpClientRequest.post(`${emulator.baseUrl}${yield* tokenPath}`).pipe(
        HttpClientRequest.setBody(
          HttpBody.uint8Array(Buffer.from([0x67, 0x72, 0xff, 0x3d]), "application/x-www-form-urlencoded")
        )
      )
      const response = yield* Effect.orDie((yield* HttpClient.HttpClient).execute(request))
      const body = yield* Effect.orDie(response.json)
      expect(response.status).toBe(400)
      expect(body).toMatchObject({ status_code: 400, error: "invalid_request" })
    }).pipe(Effect.scoped, provide))
})

describe("GET /v1/sessions/jwks/{project_id}", () => {
  /** The project's key set in Stytch's shape, cacheable for 15 minutes. */
  const expectKeySet = (answer: Effect.Effect.Success<ReturnType<typeof send>>) => {
    expect(answer.status).toBe(200)
    expect(answer.headers["cache-control"]).toBe("public, max-age=900")
    expect(answer.body).toEqual({
      keys: [signingKeys[0].jwk],
      request_id: expect.stringMatching(requestIdPattern),
      status_code: 200
    })
  }

  it.live("serves the public keys with no authentication, in Stytch's shape", () =>
    Effect.gen(function*() {
      const answer = yield* send("GET", yield* jwksPath, { authorization: null })
      expectKeySet(answer)
    }).pipe(provide))

  it.live("serves the same keys at the B2B route, where Stytch's B2B SDK clients fetch them", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      const answer = yield* send("GET", `/v1/b2b/sessions/jwks/${emulator.projectId}`, { authorization: null })
      expectKeySet(answer)
      const other = yield* send("GET", "/v1/b2b/sessions/jwks/project-test-other", { authorization: null })
      expect(other.body).toMatchObject({ status_code: 404, error_type: "project_not_found" })
    }).pipe(provide))

  it.live("answers HEAD as GET, headers and no body, as HTTP has every GET resource do", () =>
    Effect.gen(function*() {
      const answer = yield* send("HEAD", yield* jwksPath, { authorization: null })
      expect(answer.status).toBe(200)
      expect(answer.headers["cache-control"]).toBe("public, max-age=900")
      expect(answer.text).toBe("")
    }).pipe(provide))

  it.live("another project's id is a 404 in Stytch's shape", () =>
    Effect.gen(function*() {
      const answer = yield* send("GET", "/v1/sessions/jwks/project-test-other", { authorization: null })
      expect(answer.status).toBe(404)
      expect(answer.body).toMatchObject({ status_code: 404, error_type: "project_not_found" })
    }).pipe(provide))

  it.live("after emulator.keys.rotate new tokens have the new kid and both keys are served, until retire", () =>
    Effect.gen(function*() {
      const client = yield* aClient()
      const issue = Effect.map(
        send("POST", yield* tokenPath, form({ grant_type: "client_credentials", ...client })),
        (answer) => answer.body.access_token as string
      )
      const before = yield* issue
      const emulator = yield* Emulator
      yield* emulator.keys.rotate
      const after = yield* issue
      expect(decodeProtectedHeader(after).kid).toBe(signingKeys[1].kid)
      const served = yield* send("GET", yield* jwksPath, { authorization: null })
      expect(served.body.keys.map((key: { kid: string }) => key.kid)).toEqual([signingKeys[1].kid, signingKeys[0].kid])
      expect(yield* verify(before)).toBeDefined()
      expect(yield* verify(after)).toBeDefined()
      yield* emulator.keys.retire
      expect(yield* verify(before)).toBeUndefined()
      expect(yield* verify(after)).toBeDefined()
    }).pipe(provide))
})

describe("faults", () => {
  it.live.each(["token", "jwks"] as const)("the %s route fails and drops on cue", (route) =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      const client = yield* aClient()
      const request = route === "token"
        ? Effect.flatMap(tokenPath, (path) =>
          attempt("POST", path, form({ grant_type: "client_credentials", ...client })))
        : Effect.flatMap(jwksPath, (path) =>
          attempt("GET", path, { authorization: null }))
      yield* emulator.faults.setRoute(route, { fail: { share: 1, status: 503 } })
      const failed = yield* Effect.orDie(request)
      expect(failed.status).toBe(503)
      yield* emulator.faults.setRoute(route, { drop: { share: 1 } })
      expect((yield* Effect.either(request))._tag).toBe("Left")
      yield* emulator.faults.clear
      expect((yield* Effect.orDie(request)).status).toBe(200)
    }).pipe(provide))
})
