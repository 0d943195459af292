import { describe, expect, it } from "@effect/vitest"
import { Clock, DateTime, Duration, Effect, Either, Fiber, Redacted, TestClock } from "effect"
import { CompactSign, SignJWT } from "jose"
import { generateKeyPairSync } from "node:crypto"
import type { JwksAnswer, VerifyError } from "../src/index.js"
import { hasScopes, isInvalidToken, M2MTokenVerifier, missingScopes, scopeSatisfies } from "../src/index.js"
import type { SigningKey } from "./signing.js"
import { countingSource, issuer, jwks, m2mClaims, projectId, sign, signingKey, start } from "./signing.js"

const nowSeconds = Effect.map(Clock.currentTimeMillis, (millis) => Math.floor(millis / 1000))

/** A fresh Stytch-shaped token signed at the test clock's time. */
const freshToken = (key: SigningKey, overrides: Record<string, unknown> = {}) =>
  Effect.flatMap(nowSeconds, (iat) => sign(key, m2mClaims(iat, overrides)))

const failure = <A>(effect: Effect.Effect<A, VerifyError>) => Effect.flip(effect)

describe("scope rules", () => {
  it.each([
    ["read:users", "read:users", true],
    ["read:*", "read:users", true],
    ["read:*", "read:users:admin", true],
    ["read:*", "read", true],
    ["read:*", "read:*", true],
    ["*", "*", true],
    ["read", "read", true],
    ["read:users", "read:users:admin", false],
    ["read:users:admin", "read:users", false],
    ["read:user", "read:users", false],
    ["read", "read:users", false],
    ["read:users", "read:*", false],
    ["read:users", "read", false],
    ["write:*", "read:users", false],
    ["*", "read:users", false],
    ["*", "read", false],
    ["*:*", "read:users", false],
    ["", "read", false]
  ])("granted %j, required %j: %s", (granted, required, expected) => {
    expect(scopeSatisfies(granted, required)).toBe(expected)
  })

  it("names the required scopes that no granted one satisfies, in order", () => {
    expect(missingScopes(["read:*", "write:invoices"], ["write:users", "read:users:admin", "write:invoices", "delete"]))
      .toEqual(["write:users", "delete"])
    expect(hasScopes([], [])).toBe(true)
    expect(hasScopes([], ["read:users"])).toBe(false)
  })
})

describe("M2MTokenVerifier.authenticate", () => {
  const setup = (options: Partial<M2MTokenVerifier.Options> = {}) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const key = yield* signingKey("jwk-test-current")
      const verifier = yield* M2MTokenVerifier.make({ projectId, keys: jwks(key), ...options })
      return { key, verifier }
    })

  it.scoped("returns the client a Stytch token speaks for, custom claims included", () =>
    Effect.gen(function*() {
      const { key, verifier } = yield* setup()
      const iat = yield* nowSeconds
      const client = yield* verifier.authenticate(yield* sign(key, m2mClaims(iat, { user_id: "user-7" })))
      expect(client.client_id).toBe("m2m-client-test-22222222-2222-2222-2222-222222222222")
      expect(client.scopes).toEqual(["read:invoices", "write:invoices"])
      expect(client.custom_claims).toEqual({ user_id: "user-7" })
      expect(DateTime.toEpochMillis(client.issued_at)).toBe(iat * 1000)
      expect(DateTime.toEpochMillis(client.expires_at)).toBe((iat + 3600) * 1000)
    }))

  it.scoped("keeps a custom claim named __proto__ as a claim, not as the prototype", () =>
    Effect.gen(function*() {
      const { key, verifier } = yield* setup()
      const iat = yield* nowSeconds
      const overrides = JSON.parse("{\"__proto__\": {\"admin\": true}}") as Record<string, unknown>
      const client = yield* verifier.authenticate(yield* sign(key, m2mClaims(iat, overrides)))
      expect(Object.getPrototypeOf(client.custom_claims)).toBe(Object.prototype)
      expect(Object.keys(client.custom_claims)).toEqual(["__proto__"])
      expect((client.custom_claims as { admin?: unknown }).admin).toBeUndefined()
    }))

  it.scoped("reads no scope claim, or an empty one, as no scopes (Node's SDK throws a TypeError)", () =>
    Effect.gen(function*() {
      const { key, verifier } = yield* setup()
      expect((yield* verifier.authenticate(yield* freshToken(key, { scope: undefined }))).scopes).toEqual([])
      expect((yield* verifier.authenticate(yield* freshToken(key, { scope: "" }))).scopes).toEqual([])
      const refused = yield* failure(verifier.authenticate(yield* freshToken(key, { scope: "" }), {
        requiredScopes: ["read:invoices"]
      }))
      expect(refused).toMatchObject({ _tag: "MissingScopes", granted: [], missing: ["read:invoices"] })
    }))

  it.scoped("accepts the custom domain's issuer only when it is configured", () =>
    Effect.gen(function*() {
      const { key, verifier } = yield* setup({ issuers: ["https://login.example.com"] })
      const custom = yield* freshToken(key, { iss: "https://login.example.com" })
      expect((yield* verifier.authenticate(custom)).client_id).toMatch(/^m2m-client-/)
      const plain = yield* M2MTokenVerifier.make({ projectId, keys: jwks(key) })
      expect(yield* failure(plain.authenticate(custom))).toMatchObject({
        _tag: "WrongIssuer",
        issuer: "https://login.example.com",
        expected: [issuer]
      })
    }))

  describe("refuses, by tag", () => {
    const cases: ReadonlyArray<
      readonly [string, (key: SigningKey) => Effect.Effect<Redacted.Redacted<string>>, Record<string, unknown>]
    > = [
      ["an opaque string", () => Effect.succeed(Redacted.make("not-a-jwt")), { _tag: "MalformedToken" }],
      ["a header that is not JSON", () => Effect.succeed(Redacted.make("e30x.e30.c2ln")), { _tag: "MalformedToken" }],
      [
        "an HS256 token",
        () =>
          Effect.promise(() =>
            new SignJWT(m2mClaims(start / 1000)).setProtectedHeader({ alg: "HS256", kid: "jwk-test-current" })
              .sign(new Uint8Array(32))
          ).pipe(Effect.map(Redacted.make)),
        { _tag: "MalformedToken", reason: "the token is signed with \"HS256\"; only RS256 is accepted" }
      ],
      ["a token without kid", (key) => sign(key, m2mClaims(start / 1000), { kid: undefined }), {
        _tag: "MalformedToken",
        reason: "the header names no key (kid)"
      }],
      // The kid reaches an error's message, so logs: an attacker's 5,000 characters or forged log line stay out.
      ["a kid longer than a key id", (key) => sign(key, m2mClaims(start / 1000), { kid: "k".repeat(257) }), {
        _tag: "MalformedToken",
        reason: "the header's kid is not a key id"
      }],
      ["a kid with a line break", (key) => sign(key, m2mClaims(start / 1000), { kid: "jwk-test\nINFO forged" }), {
        _tag: "MalformedToken",
        reason: "the header's kid is not a key id"
      }],
      ["a token without exp", (key) => sign(key, m2mClaims(start / 1000, { exp: undefined })), {
        _tag: "MalformedToken",
        reason: "the exp claim is missing"
      }],
      // Signed, so only a broken issuer (or a test key) could make one: a defect from `DateTime` before.
      ["an exp no date can hold", (key) => sign(key, m2mClaims(start / 1000, { exp: 1e300 })), {
        _tag: "MalformedToken",
        reason: "the exp claim is invalid"
      }],
      ["an iat before the first date", (key) => sign(key, m2mClaims(start / 1000, { iat: -8.64e12 - 1 })), {
        _tag: "MalformedToken",
        reason: "the iat claim is invalid"
      }],
      ["an nbf no date can hold", (key) => sign(key, m2mClaims(start / 1000, { nbf: 1e300 })), {
        _tag: "MalformedToken",
        reason: "the nbf claim is invalid"
      }],
      [
        "a signed payload that is not JSON",
        (key) =>
          Effect.promise(() =>
            new CompactSign(new TextEncoder().encode("nope")).setProtectedHeader({ alg: "RS256", kid: key.kid })
              .sign(key.privateKey)
          ).pipe(Effect.map(Redacted.make)),
        { _tag: "MalformedToken", reason: "the claims are not a JSON object" }
      ],
      [
        "a token signed by another key under the same kid",
        () =>
          Effect.flatMap(
            signingKey("jwk-test-current", "impostor"),
            (impostor) => sign(impostor, m2mClaims(start / 1000))
          ),
        { _tag: "BadSignature", kid: "jwk-test-current" }
      ],
      ["a kid not in the key set", (key) => sign(key, m2mClaims(start / 1000), { kid: "jwk-test-forged" }), {
        _tag: "UnknownSigningKey",
        kid: "jwk-test-forged"
      }],
      ["a token past exp and the tolerance", (key) => sign(key, m2mClaims(start / 1000 - 3605)), {
        _tag: "TokenExpired"
      }],
      ["a token not valid for another 6 seconds", (key) => sign(key, m2mClaims(start / 1000 + 6)), {
        _tag: "TokenNotYetValid"
      }],
      ["another project's issuer", (key) => sign(key, m2mClaims(start / 1000, { iss: "stytch.com/project-test-2" })), {
        _tag: "WrongIssuer",
        issuer: "stytch.com/project-test-2"
      }],
      ["another project's audience", (key) => sign(key, m2mClaims(start / 1000, { aud: ["project-test-2"] })), {
        _tag: "WrongAudience",
        audience: ["project-test-2"],
        expected: projectId
      }],
      [
        "a session JWT with a scope claim (Node's SDK takes it for an M2M token)",
        (key) =>
          sign(key, m2mClaims(start / 1000, { sub: "user-test-3", "https://stytch.com/session": { id: "session-1" } })),
        { _tag: "NotAnM2MToken", reason: "it carries a session (https://stytch.com/session)" }
      ],
      ["a member's token", (key) => sign(key, m2mClaims(start / 1000, { sub: "member-live-4" })), {
        _tag: "NotAnM2MToken",
        reason: "its subject is a user or a member, not a client"
      }]
    ]

    it.scoped.each(cases)("%s", ([, token, expected]) =>
      Effect.gen(function*() {
        const { key, verifier } = yield* setup()
        const raw = yield* token(key)
        const error = yield* failure(verifier.authenticate(raw))
        expect(error).toMatchObject(expected)
        expect(isInvalidToken(error)).toBe(true)
        // None holds the token, or any part of it.
        const signature = Redacted.value(raw).split(".").at(-1)!
        for (const shown of [String(error), error.message, JSON.stringify(error)]) {
          expect(shown).not.toContain(Redacted.value(raw))
          if (signature.length > 8) expect(shown).not.toContain(signature)
        }
      }))
  })

  it.scoped("allows 5 seconds of clock skew by default, and what the call asks for", () =>
    Effect.gen(function*() {
      const { key, verifier } = yield* setup()
      const now = start / 1000
      const expiring = yield* sign(key, m2mClaims(now - 3604)) // expired 4 s ago
      expect((yield* verifier.authenticate(expiring)).client_id).toMatch(/^m2m-client-/)
      expect(yield* failure(verifier.authenticate(expiring, { clockTolerance: "3 seconds" }))).toMatchObject({
        _tag: "TokenExpired"
      })
      const early = yield* sign(key, m2mClaims(now + 4)) // a verifier whose clock is 4 s behind the issuer's
      expect((yield* verifier.authenticate(early)).client_id).toMatch(/^m2m-client-/)
      expect(yield* failure(verifier.authenticate(early, { clockTolerance: 0 }))).toMatchObject({
        _tag: "TokenNotYetValid"
      })
      const atExp = yield* sign(key, m2mClaims(now - 3600))
      expect(yield* failure(verifier.authenticate(atExp, { clockTolerance: 0 }))).toMatchObject({
        _tag: "TokenExpired"
      })
    }))

  it.scoped("limits the token's age when asked; a maximum age of 0 admits only a token issued within the tolerance", () =>
    Effect.gen(function*() {
      const { key, verifier } = yield* setup()
      const now = start / 1000
      const tenMinutesOld = yield* sign(key, m2mClaims(now - 600))
      expect((yield* verifier.authenticate(tenMinutesOld, { maxTokenAge: "15 minutes" })).client_id).toBeDefined()
      expect(yield* failure(verifier.authenticate(tenMinutesOld, { maxTokenAge: "5 minutes" }))).toMatchObject({
        _tag: "TokenTooOld",
        max_age_millis: 300_000
      })
      const justIssued = yield* sign(key, m2mClaims(now - 2))
      expect((yield* verifier.authenticate(justIssued, { maxTokenAge: 0 })).client_id).toBeDefined()
      const sixSecondsOld = yield* sign(key, m2mClaims(now - 6))
      expect(yield* failure(verifier.authenticate(sixSecondsOld, { maxTokenAge: 0 }))).toMatchObject({
        _tag: "TokenTooOld"
      })
    }))

  it.scoped("names the required scopes the token lacks, and the ones it has; no truncation", () =>
    Effect.gen(function*() {
      const { key, verifier } = yield* setup()
      const token = yield* freshToken(key, { scope: "read:users write:invoices" })
      const error = yield* failure(
        verifier.authenticate(token, { requiredScopes: ["read:users:admin", "write:invoices"] })
      )
      expect(error).toMatchObject({
        _tag: "MissingScopes",
        required: ["read:users:admin", "write:invoices"],
        granted: ["read:users", "write:invoices"],
        missing: ["read:users:admin"]
      })
      expect(isInvalidToken(error)).toBe(false)
      expect(error.message).toBe(
        "client m2m-client-test-22222222-2222-2222-2222-222222222222 lacks read:users:admin (granted: read:users write:invoices)"
      )
    }))

  describe("the verified-token cache", () => {
    it.scoped("serves a repeated token without verifying it again", () =>
      Effect.gen(function*() {
        const { key } = yield* setup()
        const cached = yield* M2MTokenVerifier.make({ projectId, keys: jwks(key) })
        const uncached = yield* M2MTokenVerifier.make({ projectId, keys: jwks(key), cacheSize: 0 })
        const token = yield* freshToken(key)
        // A verification builds the client anew; a cache hit hands back the one it built.
        expect(yield* cached.authenticate(token)).toBe(yield* cached.authenticate(token))
        expect(yield* uncached.authenticate(token)).not.toBe(yield* uncached.authenticate(token))
      }))

    it.scoped("serves a cached token only while its key is in the key set, refreshed or not", () =>
      Effect.gen(function*() {
        const answer = { current: {} as JwksAnswer }
        const { key } = yield* setup()
        answer.current = jwks(key)
        const source = countingSource(answer)
        const verifier = yield* M2MTokenVerifier.make({ projectId, keys: jwks(key), fetchKeys: source.fetch })
        // A token forged with a leaked key can carry any exp: removing the key must end it.
        const token = yield* sign(key, m2mClaims(start / 1000, { exp: start / 1000 + 365 * 86_400 }))
        const client = yield* verifier.authenticate(token)
        yield* TestClock.adjust("5 minutes")
        expect(source.fetches).toBe(1)
        // The same key refetched: still served from the cache.
        expect(yield* verifier.authenticate(token)).toBe(client)
        answer.current = jwks(yield* signingKey("jwk-test-next"))
        yield* TestClock.adjust("5 minutes")
        expect(source.fetches).toBe(2)
        expect(yield* failure(verifier.authenticate(token))).toMatchObject({ _tag: "UnknownSigningKey" })
      }))

    it.scoped("serves a cached token only while its keys are young enough to serve a fresh one", () =>
      Effect.gen(function*() {
        const answer = { current: {} as JwksAnswer }
        const { key } = yield* setup()
        answer.current = jwks(key)
        const source = countingSource(answer)
        const verifier = yield* M2MTokenVerifier.make({
          projectId,
          keys: jwks(key),
          fetchKeys: source.fetch,
          maxKeysAge: "30 minutes"
        })
        const token = yield* freshToken(key)
        yield* verifier.authenticate(token)
        source.broken = true
        yield* TestClock.adjust("31 minutes")
        expect(yield* failure(verifier.authenticate(yield* freshToken(key)))).toMatchObject({ _tag: "KeysUnavailable" })
        expect(yield* failure(verifier.authenticate(token))).toMatchObject({ _tag: "KeysUnavailable" })
      }))

    it.scoped("checks a cached token against each call's options, and never serves it past exp", () =>
      Effect.gen(function*() {
        const { key, verifier } = yield* setup()
        const token = yield* freshToken(key)
        yield* verifier.authenticate(token)
        expect(yield* failure(verifier.authenticate(token, { requiredScopes: ["delete:invoices"] }))).toMatchObject({
          _tag: "MissingScopes"
        })
        yield* TestClock.adjust("20 minutes")
        expect(yield* failure(verifier.authenticate(token, { maxTokenAge: "10 minutes" }))).toMatchObject({
          _tag: "TokenTooOld"
        })
        yield* TestClock.adjust("40 minutes")
        expect(yield* failure(verifier.authenticate(token, { clockTolerance: 0 }))).toMatchObject({
          _tag: "TokenExpired"
        })
        yield* TestClock.adjust("10 seconds")
        expect(yield* failure(verifier.authenticate(token))).toMatchObject({ _tag: "TokenExpired" })
      }))

    it.scoped("keys on the whole token: a forged signature on a cached token's header and claims is refused", () =>
      Effect.gen(function*() {
        const { key, verifier } = yield* setup()
        const token = yield* freshToken(key)
        yield* verifier.authenticate(token)
        const [header, claims, signature] = Redacted.value(token).split(".")
        const forged = `${header}.${claims}.${signature!.slice(0, -4)}AAAA`
        expect(yield* failure(verifier.authenticate(Redacted.make(forged)))).toMatchObject({ _tag: "BadSignature" })
      }))

    it.scoped("is bounded: past its size the oldest entry is verified afresh", () =>
      Effect.gen(function*() {
        const { key } = yield* setup()
        const verifier = yield* M2MTokenVerifier.make({ projectId, keys: jwks(key), cacheSize: 1 })
        const first = yield* freshToken(key, { scope: "a" })
        const second = yield* freshToken(key, { scope: "b" })
        const firstClient = yield* verifier.authenticate(first)
        const secondClient = yield* verifier.authenticate(second)
        expect(yield* verifier.authenticate(second)).toBe(secondClient)
        const again = yield* verifier.authenticate(first)
        expect(again).not.toBe(firstClient)
        expect(again.scopes).toEqual(["a"])
      }))
  })

  describe("the key cache", () => {
    const withSource = (options: Partial<M2MTokenVerifier.Options> & { readonly upFront?: boolean } = {}) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(start)
        const key = yield* signingKey("jwk-test-current")
        const answer = { current: jwks(key) }
        const source = countingSource(answer)
        const verifier = yield* M2MTokenVerifier.make({
          projectId,
          fetchKeys: source.fetch,
          ...(options.upFront === false ? {} : { keys: jwks(key) }),
          ...options
        })
        return { key, answer, source, verifier }
      })

    it.scoped("once warm, verifies without fetching", () =>
      Effect.gen(function*() {
        const { key, source, verifier } = yield* withSource()
        for (let n = 0; n < 100; n++) yield* verifier.authenticate(yield* freshToken(key, { jti: `token-${n}` }))
        expect(source.fetches).toBe(0)
      }))

    it.scoped("makes one fetch however many cold verifications miss at once", () =>
      Effect.gen(function*() {
        const { key, source, verifier } = yield* withSource({ upFront: false })
        source.latency = "200 millis"
        const tokens = yield* Effect.forEach(Array.from({ length: 50 }, (_, n) => n), (n) =>
          freshToken(key, { jti: `token-${n}` }))
        const fiber = yield* Effect.fork(Effect.forEach(tokens, (token) =>
          verifier.authenticate(token), {
          concurrency: "unbounded"
        }))
        yield* TestClock.adjust("200 millis")
        const clients = yield* Fiber.join(fiber)
        expect(clients).toHaveLength(50)
        expect(source.fetches).toBe(1)
      }))

    it.scoped("refetches for 1,000 forged kids at most once per cooldown", () =>
      Effect.gen(function*() {
        const { key, source, verifier } = yield* withSource()
        // The kid is read before the signature is checked, so one signed token's claims serve for all.
        const [, claims, signature] = Redacted.value(yield* freshToken(key)).split(".")
        const forged = Array.from({ length: 1000 }, (_, n) => {
          const header = Buffer.from(JSON.stringify({ alg: "RS256", kid: `jwk-forged-${n}` })).toString("base64url")
          return Redacted.make(`${header}.${claims}.${signature}`)
        })
        const errors = yield* Effect.forEach(forged, (token) => failure(verifier.authenticate(token)), {
          concurrency: 64
        })
        expect(errors.every((error) => error._tag === "UnknownSigningKey")).toBe(true)
        expect(source.fetches).toBe(1)
        yield* TestClock.adjust("29 seconds")
        yield* Effect.forEach(forged, (token) => failure(verifier.authenticate(token)), { discard: true })
        expect(source.fetches).toBe(1)
        yield* TestClock.adjust("1 second")
        yield* Effect.forEach(forged, (token) => failure(verifier.authenticate(token)), { discard: true })
        expect(source.fetches).toBe(2)
      }))

    it.scoped("finds a new signing key by its kid with one refetch", () =>
      Effect.gen(function*() {
        const { answer, key, source, verifier } = yield* withSource()
        const next = yield* signingKey("jwk-test-next")
        answer.current = jwks(key, next)
        expect((yield* verifier.authenticate(yield* freshToken(next))).client_id).toMatch(/^m2m-client-/)
        expect(source.fetches).toBe(1)
      }))

    it.scoped("refreshes in the background, and no verification waits for it", () =>
      Effect.gen(function*() {
        const { key, source, verifier } = yield* withSource()
        source.latency = "10 seconds"
        yield* TestClock.adjust("5 minutes")
        expect(source.fetches).toBe(1)
        // The refresh is under way (it takes 10 s on this clock); the verification does not wait for it.
        expect((yield* verifier.authenticate(yield* freshToken(key))).client_id).toMatch(/^m2m-client-/)
        yield* TestClock.adjust("10 seconds")
        yield* TestClock.adjust("5 minutes")
        expect(source.fetches).toBe(2)
      }))

    it.scoped("serves the last good keys through an outage for 24 hours, then answers KeysUnavailable", () =>
      Effect.gen(function*() {
        const { key, source, verifier } = yield* withSource({ cooldown: "10 minutes" })
        source.broken = true
        for (let hour = 0; hour < 23; hour++) {
          yield* TestClock.adjust("1 hour")
          expect((yield* verifier.authenticate(yield* freshToken(key))).client_id).toMatch(/^m2m-client-/)
        }
        // A key we cannot fetch may have signed it: unavailable keys, not an invalid token.
        expect(
          yield* failure(verifier.authenticate(
            yield* freshToken(key, {}).pipe(
              Effect.zipRight(nowSeconds),
              Effect.flatMap((iat) => sign(key, m2mClaims(iat), { kid: "jwk-test-next" }))
            )
          ))
        ).toMatchObject({ _tag: "KeysUnavailable", reason: "the key set answered 503" })
        yield* TestClock.adjust("61 minutes")
        const error = yield* failure(verifier.authenticate(yield* freshToken(key)))
        expect(error).toMatchObject({ _tag: "KeysUnavailable" })
        expect(isInvalidToken(error)).toBe(false)
        source.broken = false
        yield* TestClock.adjust("10 minutes")
        expect((yield* verifier.authenticate(yield* freshToken(key))).client_id).toMatch(/^m2m-client-/)
      }))

    it.scoped("says why keys given up front are unusable: a 1024-bit key, an EC key, RS512, encryption", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(start)
        const key = yield* signingKey("jwk-test-current")
        const short = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" })
        const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" })
        const keys = [
          { ...short, kid: key.kid },
          { ...ec, kid: key.kid },
          { ...key.jwk, alg: "RS512" },
          { ...key.jwk, use: "enc" }
        ] as unknown as JwksAnswer["keys"]
        const verifier = yield* M2MTokenVerifier.make({ projectId, keys: { keys } })
        expect(yield* failure(verifier.authenticate(yield* freshToken(key)))).toMatchObject({
          _tag: "KeysUnavailable",
          reason: "the key set holds no usable RS256 key"
        })
      }))

    it.scoped("verifies with each key a kid names when the key set names two under one kid", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(start)
        const first = yield* signingKey("jwk-test-twice", "first")
        const second = yield* signingKey("jwk-test-twice", "second")
        const other = yield* signingKey("jwk-test-twice", "other")
        const verifier = yield* M2MTokenVerifier.make({ projectId, keys: jwks(first, second) })
        // Whatever their order, a token either key signed verifies; neither is picked by position.
        expect((yield* verifier.authenticate(yield* freshToken(first))).client_id).toMatch(/^m2m-client-/)
        expect((yield* verifier.authenticate(yield* freshToken(second))).client_id).toMatch(/^m2m-client-/)
        expect(yield* failure(verifier.authenticate(yield* freshToken(other)))).toMatchObject({
          _tag: "BadSignature",
          kid: "jwk-test-twice"
        })
      }))

    it.scoped("serves keys given with no source to fetch them from for as long as it runs", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(start)
        const key = yield* signingKey("jwk-test-current")
        const verifier = yield* M2MTokenVerifier.make({ projectId, keys: jwks(key) })
        // There is nothing to refetch them from, so no outage for them to outlast.
        yield* TestClock.adjust("25 hours")
        expect((yield* verifier.authenticate(yield* freshToken(key))).client_id).toMatch(/^m2m-client-/)
      }))

    it.scoped("refetches for an unknown kid after the clock was set back", () =>
      Effect.gen(function*() {
        const { answer, key, source, verifier } = yield* withSource({ refreshInterval: Duration.infinity })
        const next = yield* signingKey("jwk-test-next")
        expect(yield* failure(verifier.authenticate(yield* freshToken(next)))).toMatchObject({
          _tag: "UnknownSigningKey"
        })
        expect(source.fetches).toBe(1)
        // An NTP correction, say: the last attempt now looks an hour in the future.
        yield* TestClock.setTime(start - 3_600_000)
        answer.current = jwks(key, next)
        yield* TestClock.adjust("1 minute")
        expect((yield* verifier.authenticate(yield* freshToken(next))).client_id).toMatch(/^m2m-client-/)
        expect(source.fetches).toBe(2)
      }))

    it.scoped("on a cold start in an outage, fails with KeysUnavailable and retries once per cooldown", () =>
      Effect.gen(function*() {
        const { key, source, verifier } = yield* withSource({ upFront: false })
        source.broken = true
        const token = yield* freshToken(key)
        for (let n = 0; n < 100; n++) {
          expect(yield* failure(verifier.authenticate(token))).toMatchObject({ _tag: "KeysUnavailable" })
        }
        expect(source.fetches).toBe(1)
        source.broken = false
        yield* TestClock.adjust("30 seconds")
        expect(source.fetches).toBe(2)
        expect(Either.isRight(yield* Effect.either(verifier.authenticate(token)))).toBe(true)
      }))
  })
})
