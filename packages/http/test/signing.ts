// Keys and Stytch-shaped tokens made with jose for the verifier's and middlewares' tests, signed at
// the real time (these tests run against real servers, on the live clock).
import type { JwksAnswer } from "@stytch-effect/core"
import { Effect, Redacted } from "effect"
import type { KeyLike } from "jose"
import { exportJWK, generateKeyPair, SignJWT } from "jose"

export const projectId = "project-test-11111111-2222-3333-4444-555555555555"

export interface SigningKey {
  readonly kid: string
  readonly privateKey: KeyLike
  readonly jwks: JwksAnswer
}

export const signingKey = (kid: string): Effect.Effect<SigningKey> =>
  Effect.promise(async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256")
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } as JwksAnswer["keys"][number]
    return { kid, privateKey, jwks: { keys: [jwk] } }
  })

export const token = (
  key: SigningKey,
  overrides: Record<string, unknown> = {}
): Effect.Effect<Redacted.Redacted<string>> =>
  Effect.promise(() => {
    const iat = Math.floor(Date.now() / 1000)
    return new SignJWT({
      sub: "m2m-client-test-worker",
      iss: `stytch.com/${projectId}`,
      aud: [projectId],
      scope: "read:invoices",
      iat,
      nbf: iat,
      exp: iat + 3600,
      ...overrides
    }).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.kid }).sign(key.privateKey)
  }).pipe(Effect.map(Redacted.make))
