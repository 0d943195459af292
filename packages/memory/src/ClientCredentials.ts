/**
 * Checking an M2M client's own credentials against the in-memory store: what the emulator (and later
 * its token endpoint) uses to decide whether a `client_id` and `client_secret` belong together.
 */
import type { M2MClient } from "@stytch-effect/core"
import type { Effect, Option, Redacted } from "effect"
import { Context } from "effect"

export declare namespace ClientCredentials {
  export interface Service {
    /**
     * Whether `secret` is the client's current secret or, during a rotation, its next one. False for
     * an unknown or deleted client, and for an inactive one: deactivating a client stops it getting new
     * tokens, so its secret no longer opens anything. Compared in constant time.
     */
    readonly verify: (client_id: string, secret: Redacted.Redacted<string>) => Effect.Effect<boolean>
    /** The client, when `verify` would answer true: what a token endpoint needs (its scopes) to issue one. */
    readonly authenticate: (
      client_id: string,
      secret: Redacted.Redacted<string>
    ) => Effect.Effect<Option.Option<M2MClient>>
  }
}

export class ClientCredentials extends Context.Tag("@stytch-effect/memory/ClientCredentials")<
  ClientCredentials,
  ClientCredentials.Service
>() {}
