/**
 * The behaviour every `M2MTokens` implementation must show, beside the clients suite: tokens that any
 * JWT library verifies against the project's key set, key rotation with an overlap, secret rotation,
 * inactive and deleted clients, scope subsets, custom claims, and the errors callers catch by tag.
 *
 * It speaks through `M2MClients`, `M2MTokens` and a `TokenFixture` (the project, its key set and a way
 * to rotate its keys): the memory layer gives them from its `SigningKeys`, the http layer from the
 * emulator's JWKS endpoint.
 */
import { describe, expect, it } from "@effect/vitest"
import type { JwksAnswer, M2MTokenRequest } from "@stytch-effect/core"
import { M2MClients, M2MTokens } from "@stytch-effect/core"
import type { Layer } from "effect"
import { Context, Effect, Redacted } from "effect"
import type { JSONWebKeySet, JWTPayload } from "jose"
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose"

export declare namespace TokenFixture {
  export interface Service {
    /** The project the tokens are for: their `aud`, and `iss` as `stytch.com/{projectId}`. */
    readonly projectId: string
    /** The project's key set as a verifier gets it. */
    readonly jwks: Effect.Effect<JwksAnswer>
    /** A new signing key, the previous one still served. */
    readonly rotateKeys: Effect.Effect<void>
  }
}

export class TokenFixture extends Context.Tag("@stytch-effect/contract/TokenFixture")<
  TokenFixture,
  TokenFixture.Service
>() {}

type Services = M2MClients | M2MTokens | TokenFixture

const token = (request: M2MTokenRequest) => Effect.flatMap(M2MTokens, (tokens) => tokens.token(request))

/** A client and its credentials, as a token request takes them. */
const aClient = (scopes: ReadonlyArray<string> = ["read:users", "write:users"]) =>
  Effect.map(
    Effect.flatMap(M2MClients, (clients) => clients.create({ scopes })),
    ({ m2m_client }) => ({ client_id: m2m_client.client_id, client_secret: m2m_client.client_secret })
  )

/** The token's claims if it verifies against the project's key set, as a resource server checks it. */
const verify = (accessToken: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const fixture = yield* TokenFixture
    const jwks = JSON.parse(JSON.stringify(yield* fixture.jwks)) as JSONWebKeySet
    return yield* Effect.promise(() =>
      jwtVerify(Redacted.value(accessToken), createLocalJWKSet(jwks), {
        algorithms: ["RS256"],
        issuer: `stytch.com/${fixture.projectId}`,
        audience: fixture.projectId,
        typ: "JWT"
      }).then((verified): JWTPayload | undefined => verified.payload, () => undefined)
    )
  })

export const tokenSuite = (name: string, makeLayer: () => Layer.Layer<Services, any>): void => {
  const test = <A, E>(title: string, body: () => Effect.Effect<A, E, Services>) =>
    it.live(title, () => Effect.provide(body(), makeLayer()))

  describe(name, () => {
    describe("M2MTokens.token", () => {
      test("issues an RS256 JWT that verifies against the key set, with Stytch's claims", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const issued = yield* token(client)
          const { projectId } = yield* TokenFixture
          const claims = yield* verify(issued.access_token)
          expect(claims).toEqual({
            sub: client.client_id,
            iss: `stytch.com/${projectId}`,
            aud: [projectId],
            scope: "read:users write:users",
            iat: expect.any(Number),
            nbf: claims?.iat,
            exp: claims!.iat! + 3600
          })
          expect(issued).toMatchObject({
            token_type: "bearer",
            expires_in: 3600,
            client_id: client.client_id,
            scopes: ["read:users", "write:users"]
          })
          const kids = (yield* (yield* TokenFixture).jwks).keys.map((key) => key.kid)
          expect(kids).toContain(decodeProtectedHeader(Redacted.value(issued.access_token)).kid)
        }))

      test("scopes asked must be a subset of the client's; the token holds exactly those", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const issued = yield* token({ ...client, scopes: ["write:users"] })
          expect(issued.scopes).toEqual(["write:users"])
          expect((yield* verify(issued.access_token))?.scope).toBe("write:users")
          const error = yield* Effect.flip(token({ ...client, scopes: ["read:users", "delete:users"] }))
          expect(error._tag).toBe("ScopeNotGranted")
          expect(error.message).toContain("delete:users")
          expect(error.message).not.toContain(Redacted.value(client.client_secret))
        }))

      test("extra fields become custom claims that never replace Stytch's", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const issued = yield* token({ ...client, extra: { user_id: "user-1", sub: "someone-else", iss: "me" } })
          const claims = yield* verify(issued.access_token)
          expect(claims).toMatchObject({ user_id: "user-1", sub: client.client_id })
          expect(issued.claims.user_id).toBe("user-1")
        }))

      test("a wrong secret, an unknown client and a deleted one are InvalidClientCredentials", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const wrong = yield* Effect.flip(token({ ...client, client_secret: Redacted.make("not-the-secret-at-all") }))
          const unknown = yield* Effect.flip(token({ ...client, client_id: "m2m-client-test-nobody" }))
          yield* Effect.flatMap(M2MClients, (clients) => clients.delete({ client_id: client.client_id }))
          const deleted = yield* Effect.flip(token(client))
          expect([wrong._tag, unknown._tag, deleted._tag]).toEqual(Array(3).fill("InvalidClientCredentials"))
          for (const error of [wrong, unknown, deleted]) {
            expect(error.message).not.toContain(Redacted.value(client.client_secret))
          }
        }))

      test("an inactive client with its right secret is ClientInactive, until it is active again", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const clients = yield* M2MClients
          const before = yield* token(client)
          yield* clients.update({ client_id: client.client_id, status: "inactive" })
          expect((yield* Effect.flip(token(client)))._tag).toBe("ClientInactive")
          // The wrong secret learns nothing about the client's status.
          const wrong = yield* Effect.flip(token({ ...client, client_secret: Redacted.make("not-the-secret-at-all") }))
          expect(wrong._tag).toBe("InvalidClientCredentials")
          // Deactivating stops new tokens but revokes none.
          expect(yield* verify(before.access_token)).toBeDefined()
          yield* clients.update({ client_id: client.client_id, status: "active" })
          expect((yield* token(client)).client_id).toBe(client.client_id)
        }))

      test("during a secret rotation both secrets get tokens; after rotate only the new one", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const clients = yield* M2MClients
          const started = yield* clients.secrets.rotateStart({ client_id: client.client_id })
          const next = { ...client, client_secret: started.m2m_client.next_client_secret }
          expect((yield* token(client)).client_id).toBe(client.client_id)
          expect((yield* token(next)).client_id).toBe(client.client_id)
          yield* clients.secrets.rotate({ client_id: client.client_id })
          expect((yield* Effect.flip(token(client)))._tag).toBe("InvalidClientCredentials")
          expect((yield* token(next)).client_id).toBe(client.client_id)
        }))

      test("a cancelled rotation's next secret gets no token", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const clients = yield* M2MClients
          const started = yield* clients.secrets.rotateStart({ client_id: client.client_id })
          yield* clients.secrets.rotateCancel({ client_id: client.client_id })
          const next = { ...client, client_secret: started.m2m_client.next_client_secret }
          expect((yield* Effect.flip(token(next)))._tag).toBe("InvalidClientCredentials")
          expect((yield* token(client)).client_id).toBe(client.client_id)
        }))

      test("a request that breaks the schema is an InvalidRequest", () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(token({ client_id: "", client_secret: Redacted.make("short") }))
          expect(error._tag).toBe("InvalidRequest")
        }))
    })

    describe("key rotation", () => {
      test("new tokens are signed by the new key; tokens signed before still verify", () =>
        Effect.gen(function*() {
          const client = yield* aClient()
          const before = yield* token(client)
          yield* (yield* TokenFixture).rotateKeys
          const after = yield* token(client)
          const kidOf = (issued: typeof before) => decodeProtectedHeader(Redacted.value(issued.access_token)).kid
          expect(kidOf(after)).not.toBe(kidOf(before))
          expect(yield* verify(before.access_token)).toBeDefined()
          expect(yield* verify(after.access_token)).toBeDefined()
          const kids = (yield* (yield* TokenFixture).jwks).keys.map((key) => key.kid)
          expect(kids).toEqual([kidOf(after), kidOf(before)])
        }))
    })
  })
}
