import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Either, Redacted, Schema } from "effect"
import {
  ErrorBody,
  fromApiErrorFields,
  M2MToken,
  M2MTokens,
  readClaims,
  scopesOfClaim,
  tokenOperation
} from "../src/index.js"

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const jwt = (claims: unknown) => Redacted.make(`${base64url({ alg: "RS256", typ: "JWT" })}.${base64url(claims)}.sig`)

const claims = {
  sub: "m2m-client-test-1",
  iss: "stytch.com/project-test-1",
  aud: ["project-test-1"],
  scope: "read:invoices write:invoices",
  iat: 1_800_000_000,
  nbf: 1_800_000_000,
  exp: 1_800_003_600,
  user_id: "user-1"
}

describe("readClaims", () => {
  it("reads a JWT's claims, keeping custom ones", () => {
    expect(readClaims(jwt(claims))).toEqual(Either.right(claims))
  })

  it.each([
    ["not a JWT", Redacted.make("opaque-token"), "not a JWT"],
    ["claims not base64url", Redacted.make("a.!!!.c"), "not base64url"],
    ["claims not JSON", Redacted.make(`a.${Buffer.from("nope").toString("base64url")}.c`), "not a JSON object"],
    ["no sub", jwt({ ...claims, sub: undefined }), "sub claim is missing"],
    ["exp not a number", jwt({ ...claims, exp: "soon" }), "exp claim is invalid"]
  ])("%s: a Left that never quotes the token", (_, token, expected) => {
    const read = readClaims(token)
    expect(Either.isLeft(read) && read.left).toContain(expected)
    expect(Either.isLeft(read) && read.left).not.toContain(Redacted.value(token).slice(0, 8))
  })
})

describe("scopesOfClaim", () => {
  it.each([
    [undefined, []],
    ["", []],
    ["  ", []],
    ["read:users", ["read:users"]],
    ["read:users  write:users ", ["read:users", "write:users"]]
  ])("%j -> %j", (scope, expected) => {
    expect(scopesOfClaim(scope)).toEqual(expected)
  })
})

describe("M2MToken.fromAnswer", () => {
  it("reads client id, scopes and times from the token, and keeps the token Redacted", () => {
    const token = Either.getOrThrow(M2MToken.fromAnswer({
      request_id: "request-id-test-1",
      status_code: 200,
      access_token: jwt(claims),
      token_type: "bearer",
      expires_in: 3600
    }))
    expect(token.client_id).toBe("m2m-client-test-1")
    expect(token.scopes).toEqual(["read:invoices", "write:invoices"])
    expect(DateTime.toEpochMillis(token.issued_at)).toBe(1_800_000_000_000)
    expect(DateTime.toEpochMillis(token.expires_at)).toBe(1_800_003_600_000)
    expect(String(token)).not.toContain(Redacted.value(token.access_token).slice(0, 8))
    expect(JSON.stringify(token)).not.toContain(Redacted.value(token.access_token).slice(0, 8))
  })

  it("refuses a token whose times no date can hold, naming the claim", () => {
    const answer = (overrides: Record<string, unknown>) =>
      M2MToken.fromAnswer({
        request_id: "request-id-test-1",
        status_code: 200,
        access_token: jwt({ ...claims, ...overrides }),
        token_type: "bearer",
        expires_in: 3600
      })
    expect(answer({ exp: 1e300 })).toEqual(Either.left("the access token's exp claim is invalid"))
    expect(answer({ iat: -1e16 })).toEqual(Either.left("the access token's iat claim is invalid"))
  })
})

describe("the token endpoint's errors", () => {
  it.each([
    ["invalid_client", 400, "InvalidClientCredentials"],
    ["invalid_scope", 400, "ScopeNotGranted"],
    ["unauthorized_client", 400, "ClientInactive"],
    ["invalid_grant", 400, "InvalidGrant"],
    ["unsupported_grant_type", 400, "InvalidGrant"],
    ["invalid_request", 400, "ApiError"],
    ["too_many_requests", 429, "RateLimited"],
    ["server_unavailable", 503, "ServerError"]
  ])("an OAuth2 body with %s (%d) is a %s", (error, status, tag) => {
    const body = Schema.decodeUnknownSync(ErrorBody)({
      status_code: status,
      request_id: "r",
      error,
      error_description: "d"
    })
    expect(fromApiErrorFields({ ...body, status_code: status }, tokenOperation.errors)._tag).toBe(tag)
  })
})

describe("M2MTokens.make", () => {
  it.effect("refuses a bad request before the implementation, naming the field but not the secret", () =>
    Effect.gen(function*() {
      let called = false
      const tokens = M2MTokens.make({ token: () => Effect.sync(() => (called = true)) as never })
      const error = yield* Effect.flip(
        tokens.token({ client_id: "", client_secret: Redacted.make("long-enough-secret") })
      )
      expect(error._tag).toBe("InvalidRequest")
      expect(error.message).toContain("client_id")
      const reserved = yield* Effect.flip(
        tokens.token({ client_id: "c", client_secret: Redacted.make("long-enough-secret"), extra: { scope: "x" } })
      )
      expect(reserved.message).toContain("extra")
      expect(called).toBe(false)
    }))
})
