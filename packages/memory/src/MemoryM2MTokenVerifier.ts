/**
 * The `M2MTokenVerifier` of `@stytch-effect/core` over the memory store's own signing keys, so an app's
 * tests verify the tokens its memory `M2MTokens` issues without HTTP. It is the same verifier as the
 * http layer's (the same checks, errors and caches); only the key source differs.
 *
 * ```ts
 * const projectId = "project-test-00000000-0000-0000-0000-000000000000"
 * const TestLive = MemoryM2MTokenVerifier.layer({ projectId }).pipe(
 *   Layer.provideMerge(MemoryM2MClients.layer({ projectId }))
 * )
 * ```
 */
import { M2MTokenVerifier } from "@stytch-effect/core"
import { Duration, Effect, Layer } from "effect"
import { SigningKeys } from "./SigningKeys.js"

export interface Options extends Pick<M2MTokenVerifier.Options, "issuers" | "clockTolerance"> {
  /** The store's project: tokens are held to its issuer and audience. Pass the store the same id. */
  readonly projectId: string
}

/**
 * The verifier over `SigningKeys`. Reading them costs nothing, so they are read for every
 * verification and no token is cached: a token signed after `SigningKeys.rotate` verifies at once, and
 * one signed by a key that `retire` dropped stops verifying at once. With no background refresh, the
 * `TestClock` can be moved as far as a test likes.
 */
export const layer = (options: Options): Layer.Layer<M2MTokenVerifier, never, SigningKeys> =>
  Layer.scoped(
    M2MTokenVerifier,
    Effect.flatMap(SigningKeys, (keys) =>
      M2MTokenVerifier.make({
        ...options,
        fetchKeys: keys.jwks,
        maxKeysAge: 0,
        cooldown: 0,
        refreshInterval: Duration.infinity,
        cacheSize: 0
      }))
  )
