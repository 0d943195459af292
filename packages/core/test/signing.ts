// Keys and tokens made with jose for the verifier's tests: a project's key set, tokens shaped like
// Stytch's (and tokens that are not), and a key source that counts its fetches and can be broken.
import { Duration, Effect, Redacted } from "effect"
import type { JWK, KeyLike } from "jose"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import type { JwksAnswer } from "../src/index.js"
import { KeysUnavailable } from "../src/index.js"

export const projectId = "project-test-11111111-1111-1111-1111-111111111111"
export const issuer = `stytch.com/${projectId}`
/** 2027-01-15, a whole second: every test's clock starts here. */
export const start = 1_800_000_000_000

export interface SigningKey {
  readonly kid: string
  readonly privateKey: KeyLike
  readonly jwk: JWK
}

// RSA keys take a while to make: each test file makes each one once.
const keyPairs = new Map<string, ReturnType<typeof generateKeyPair>>()

/** The key named `kid`; another `pair` gives another key under the same `kid`. */
export const signingKey = (kid: string, pair: string = kid): Effect.Effect<SigningKey> =>
  Effect.promise(async () => {
    if (!keyPairs.has(pair)) keyPairs.set(pair, generateKeyPair("RS256"))
    const { privateKey, publicKey } = await keyPairs.get(pair)!
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig", key_ops: ["verify"] }
    return { kid, privateKey, jwk }
  })

export const jwks = (...keys: ReadonlyArray<SigningKey>): JwksAnswer => ({
  keys: keys.map((key) => key.jwk as unknown as JwksAnswer["keys"][number]),
  request_id: "request-id-test-jwks",
  status_code: 200
})

/** The claims Stytch puts in an M2M token issued at `iat` (epoch seconds). */
export const m2mClaims = (iat: number, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub: "m2m-client-test-22222222-2222-2222-2222-222222222222",
  iss: issuer,
  aud: [projectId],
  scope: "read:invoices write:invoices",
  iat,
  nbf: iat,
  exp: iat + 3600,
  ...overrides
})

export const sign = (
  key: SigningKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {}
): Effect.Effect<Redacted.Redacted<string>> =>
  Effect.promise(() =>
    new SignJWT(claims).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.kid, ...header }).sign(key.privateKey)
  ).pipe(Effect.map(Redacted.make))

/** A key source that counts its fetches; `broken` turns it into an outage. */
export interface CountingSource {
  fetches: number
  broken: boolean
  /** How long each fetch takes, on the clock the test runs on. */
  latency: Duration.DurationInput
  readonly fetch: Effect.Effect<JwksAnswer, KeysUnavailable>
}

export const countingSource = (answer: { current: JwksAnswer }): CountingSource => {
  const source: CountingSource = {
    fetches: 0,
    broken: false,
    latency: 0,
    fetch: Effect.suspend(() => {
      source.fetches++
      const answered = source.broken
        ? Effect.fail(new KeysUnavailable({ reason: "the key set answered 503" }))
        : Effect.succeed(answer.current)
      return Duration.isZero(Duration.decode(source.latency))
        ? answered
        : Effect.zipRight(Effect.sleep(source.latency), answered)
    })
  }
  return source
}
