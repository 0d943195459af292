/**
 * The store's signing keys: the RSA keys the memory `M2MTokens` (and the emulator's token endpoint)
 * sign access tokens with, and the key set (JWKS) that verifies them, with Stytch's rotation: after
 * `rotate` new tokens are signed by a new key while the previous one is still served, so tokens issued
 * before the rotation keep verifying until `retire` (or the next rotation) drops it. Stytch serves both
 * keys for about a month.
 *
 * Generating an RSA 2048 key takes about 100 ms (seconds on a loaded machine), so a store makes one when
 * it first signs or serves its keys, and another on each rotation; test suites that make many stores can generate keys once (`generateSigningKey`) and hand
 * them to every store (`MemoryOptions.signingKeys`).
 */
import type { Jwk, JwksAnswer } from "@stytch-effect/core"
import { projectEnvironment } from "@stytch-effect/core"
import { Context, Effect, Redacted, SynchronizedRef } from "effect"
import type { JWTPayload, KeyLike } from "jose"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { randomUUID } from "node:crypto"

/** The one algorithm Stytch signs with. */
const algorithm = "RS256"

/** A key pair: the private half signs tokens, the public half (`jwk`) is what the key set serves. */
export interface SigningKey {
  /** `jwk-test-<uuid>` (`jwk-live-` for a live project): what a token's header names as its `kid`. */
  readonly kid: string
  /** The public key as JWKS serves it: `kty`, `use: "sig"`, `key_ops: ["verify"]`, `alg: "RS256"`, `kid`, `n`, `e`. */
  readonly jwk: Jwk
  /** The private key; only ever used to sign, never exported. */
  readonly privateKey: KeyLike
}

/** A new RSA 2048 signing key, its `kid` in the project's environment (test unless a `project-live-` id). */
export const generateSigningKey = (options: { readonly projectId?: string | undefined } = {}): Effect.Effect<
  SigningKey
> =>
  Effect.promise(async () => {
    const { privateKey, publicKey } = await generateKeyPair(algorithm, { modulusLength: 2048 })
    const kid = `jwk-${projectEnvironment(options.projectId ?? "")}-${randomUUID()}`
    const { e, kty, n } = await exportJWK(publicKey)
    return { kid, jwk: { kty: kty!, use: "sig", key_ops: ["verify"], alg: algorithm, kid, n, e }, privateKey }
  })

export declare namespace SigningKeys {
  export interface Service {
    /** The public keys to verify tokens with: the current one first, then the previous one while it overlaps. */
    readonly jwks: Effect.Effect<JwksAnswer>
    /** The `kid` of the key that signs new tokens. */
    readonly currentKid: Effect.Effect<string>
    /**
     * A new current key: new tokens are signed by it, the previous current key is still served (so
     * tokens it signed still verify) until `retire` or the next rotation; a key older than that is dropped.
     */
    readonly rotate: Effect.Effect<void>
    /** Ends the overlap: only the current key is served, so tokens signed by earlier keys stop verifying. */
    readonly retire: Effect.Effect<void>
    /** The claims as a compact JWS signed by the current key: RS256, header `typ: "JWT"` and the key's `kid`. */
    readonly sign: (claims: JWTPayload) => Effect.Effect<Redacted.Redacted<string>>
  }
}

export class SigningKeys extends Context.Tag("@stytch-effect/memory/SigningKeys")<
  SigningKeys,
  SigningKeys.Service
>() {}

export interface SigningKeysOptions {
  /** Chooses `test` or `live` in generated `kid`s. */
  readonly projectId?: string | undefined
  /**
   * Keys to use before generating any: the first signs from the start, each later one becomes current
   * on a `rotate`, in order. Once they are used up, `rotate` generates a key.
   */
  readonly keys?: Iterable<SigningKey> | undefined
}

interface KeyState {
  readonly current: SigningKey
  /** The key current before the last rotation, served until `retire` or the next rotation. */
  readonly previous: SigningKey | null
}

/**
 * A key set with one current key, from `options.keys` or generated. A key is generated when it is
 * first needed, not when the set is made, so a store whose tests never ask for a token costs nothing.
 */
export const makeSigningKeys = (options: SigningKeysOptions = {}): Effect.Effect<SigningKeys.Service> =>
  Effect.gen(function*() {
    const [first, ...spare] = Array.from(options.keys ?? [])
    const generate = generateSigningKey({ projectId: options.projectId })
    const firstKey = yield* Effect.cached(first === undefined ? generate : Effect.succeed(first))
    // Null until the first rotation; rotations run one at a time, so none is lost to a concurrent one.
    const rotated = yield* SynchronizedRef.make<KeyState | null>(null)
    const state = Effect.flatMap(
      SynchronizedRef.get(rotated),
      (keys) => keys === null ? Effect.map(firstKey, (current) => ({ current, previous: null })) : Effect.succeed(keys)
    )

    return SigningKeys.of({
      jwks: Effect.map(state, ({ current, previous }) => ({
        keys: previous === null ? [current.jwk] : [current.jwk, previous.jwk]
      })),
      currentKid: Effect.map(state, ({ current }) => current.kid),
      rotate: SynchronizedRef.updateEffect(rotated, (keys) =>
        Effect.gen(function*() {
          const previous = keys === null ? yield* firstKey : keys.current
          const current = spare.shift() ?? (yield* generate)
          return { current, previous }
        })),
      retire: SynchronizedRef.update(rotated, (keys) => keys === null ? null : { ...keys, previous: null }),
      sign: (claims) =>
        Effect.flatMap(
          state,
          ({ current }) =>
            Effect.promise(() =>
              new SignJWT(claims).setProtectedHeader({ alg: algorithm, typ: "JWT", kid: current.kid }).sign(
                current.privateKey
              )
            )
        ).pipe(Effect.map(Redacted.make))
    })
  })
