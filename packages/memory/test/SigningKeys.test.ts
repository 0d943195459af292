// The store's signing keys and the tokens it signs with them: the key set's shape, rotation with an
// overlap, keys given up front, and claims on the TestClock. The token behaviour both layers share
// (credentials, scopes, errors) is in packages/contract.
import { describe, expect, it } from "@effect/vitest"
import { M2MClients, M2MTokens } from "@stytch-effect/core"
import { Effect, Redacted, TestClock } from "effect"
import type { JSONWebKeySet } from "jose"
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose"
import type { SigningKey } from "../src/index.js"
import { generateSigningKey, makeSigningKeys, SigningKeys } from "../src/index.js"
import { layer } from "../src/MemoryM2MClients.js"

const uuid = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

/** Whether the token verifies against the key set, as any JWT library would check it. */
const verifies = (jwks: SigningKeys.Service["jwks"], token: Redacted.Redacted<string>, currentDate?: Date) =>
  Effect.flatMap(
    jwks,
    (answer) =>
      Effect.promise(() =>
        jwtVerify(Redacted.value(token), createLocalJWKSet(JSON.parse(JSON.stringify(answer)) as JSONWebKeySet), {
          algorithms: ["RS256"],
          ...(currentDate === undefined ? {} : { currentDate })
        })
          .then(() => true, () => false)
      )
  )

// Three keys made once for the file: generating one takes about 100 ms.
const given: Array<SigningKey> = []
const sharedKeys = Effect.gen(function*() {
  while (given.length < 3) given.push(yield* generateSigningKey())
  return given
})

describe("the key set", () => {
  it.effect("serves public RSA keys for RS256 signatures, named jwk-test-<uuid>", () =>
    Effect.gen(function*() {
      const keys = yield* makeSigningKeys()
      const { keys: [key, ...others] } = yield* keys.jwks
      expect(others).toEqual([])
      expect(key).toEqual({
        kty: "RSA",
        use: "sig",
        key_ops: ["verify"],
        alg: "RS256",
        kid: expect.stringMatching(new RegExp(`^jwk-test-${uuid}$`)),
        n: expect.stringMatching(/^[A-Za-z0-9_-]{342}$/),
        e: "AQAB"
      })
      expect(key!.kid).toBe(yield* keys.currentKid)
      // Nothing private: an RSA private JWK would carry d, p, q, dp, dq, qi.
      expect(Object.keys(key!)).not.toContain("d")
    }))

  it.effect("a live project's keys are jwk-live-", () =>
    Effect.gen(function*() {
      const key = yield* generateSigningKey({ projectId: "project-live-6c20cd16-73d5-44f7-852c-9a7e7b2ccf62" })
      expect(key.kid).toMatch(new RegExp(`^jwk-live-${uuid}$`))
    }))

  it.effect("signs RS256 with typ JWT and the current key's kid", () =>
    Effect.gen(function*() {
      const keys = yield* makeSigningKeys({ keys: yield* sharedKeys })
      const token = yield* keys.sign({ sub: "someone" })
      expect(decodeProtectedHeader(Redacted.value(token))).toEqual({ alg: "RS256", typ: "JWT", kid: given[0]!.kid })
      expect(yield* verifies(keys.jwks, token)).toBe(true)
    }))
})

describe("rotation", () => {
  it.effect("a new key signs; the previous one is served until retire, so its tokens still verify", () =>
    Effect.gen(function*() {
      const keys = yield* makeSigningKeys({ keys: yield* sharedKeys })
      const before = yield* keys.sign({ sub: "before" })
      yield* keys.rotate
      const after = yield* keys.sign({ sub: "after" })
      expect(decodeProtectedHeader(Redacted.value(after)).kid).toBe(given[1]!.kid)
      expect((yield* keys.jwks).keys.map((key) => key.kid)).toEqual([given[1]!.kid, given[0]!.kid])
      expect(yield* verifies(keys.jwks, before)).toBe(true)
      expect(yield* verifies(keys.jwks, after)).toBe(true)

      yield* keys.retire
      expect((yield* keys.jwks).keys.map((key) => key.kid)).toEqual([given[1]!.kid])
      expect(yield* verifies(keys.jwks, before)).toBe(false)
      expect(yield* verifies(keys.jwks, after)).toBe(true)
    }))

  it.effect("a second rotation drops the key before the previous one", () =>
    Effect.gen(function*() {
      const keys = yield* makeSigningKeys({ keys: yield* sharedKeys })
      yield* keys.rotate
      yield* keys.rotate
      expect((yield* keys.jwks).keys.map((key) => key.kid)).toEqual([given[2]!.kid, given[1]!.kid])
    }))

  it.effect("once the given keys are used up, rotate generates one", () =>
    Effect.gen(function*() {
      const keys = yield* makeSigningKeys({ keys: [given[0]!] })
      yield* keys.rotate
      const kid = yield* keys.currentKid
      expect(kid).toMatch(new RegExp(`^jwk-test-${uuid}$`))
      expect(given.map((key) => key.kid)).not.toContain(kid)
    }))
})

describe("the store's tokens", () => {
  const projectId = "project-test-11111111-2222-4333-8444-555555555555"

  it.effect("are signed by the store's keys, with iat = nbf = now on the Clock and exp an hour later", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_500)
      const created = yield* (yield* M2MClients).create({ scopes: ["read:users"] })
      const token = yield* (yield* M2MTokens).token({
        client_id: created.m2m_client.client_id,
        client_secret: created.m2m_client.client_secret
      })
      expect(token.claims).toEqual({
        sub: created.m2m_client.client_id,
        iss: `stytch.com/${projectId}`,
        aud: [projectId],
        scope: "read:users",
        iat: 1_800_000_000,
        nbf: 1_800_000_000,
        exp: 1_800_003_600
      })
      const keys = yield* SigningKeys
      expect(decodeProtectedHeader(Redacted.value(token.access_token)).kid).toBe(yield* keys.currentKid)
      expect(yield* verifies(keys.jwks, token.access_token, new Date(1_800_000_001_000))).toBe(true)
    }).pipe(Effect.provide(layer({ projectId, signingKeys: given }))))

  it.effect("a store given no project id stands for a project-test- one", () =>
    Effect.gen(function*() {
      const created = yield* (yield* M2MClients).create({ scopes: [] })
      const token = yield* (yield* M2MTokens).token({
        client_id: created.m2m_client.client_id,
        client_secret: created.m2m_client.client_secret
      })
      expect(token.claims.iss).toMatch(new RegExp(`^stytch\\.com/project-test-${uuid}$`))
      expect(token.claims.aud).toEqual([token.claims.iss.slice("stytch.com/".length)])
    }).pipe(Effect.provide(layer({ signingKeys: given }))))
})
