// The official `stytch` Node SDK (14.2), unchanged, against the emulator: its M2M token call, its token
// verification (which fetches our key set with jose's own https client), and its client management.
import { describe, expect, it } from "@effect/vitest"
import { generateSigningKey } from "@stytch-effect/memory"
import { Effect, Layer, Redacted } from "effect"
import * as stytch from "stytch"
import { Emulator } from "../src/index.js"

const signingKeys = await Effect.runPromise(Effect.all([generateSigningKey()]))

/** The SDK pointed at the emulator; `env` is the only base URL option that takes plain http. */
const sdk = Effect.map(Emulator, (emulator) =>
  new stytch.Client({
    project_id: emulator.projectId,
    secret: Redacted.value(emulator.secret),
    env: `${emulator.baseUrl}/`
  }))

const provide = Effect.provide(Layer.fresh(Emulator.layerMemory({ memory: { signingKeys } })))

describe("the official stytch SDK against the emulator", () => {
  it.live("creates and gets clients, gets a token and verifies it with required scopes", () =>
    Effect.gen(function*() {
      const client = yield* sdk
      const created = yield* Effect.promise(() =>
        client.m2m.clients.create({ scopes: ["read:users", "write:users"], client_name: "worker" })
      )
      const { client_id, client_secret } = created.m2m_client
      const got = yield* Effect.promise(() => client.m2m.clients.get({ client_id }))
      expect(got.m2m_client).toMatchObject({ client_id, client_name: "worker", scopes: ["read:users", "write:users"] })

      const token = yield* Effect.promise(() => client.m2m.token({ client_id, client_secret, scopes: ["read:users"] }))
      expect(token).toMatchObject({ token_type: "bearer", expires_in: 3600 })

      const verified = yield* Effect.promise(() =>
        client.m2m.authenticateToken({ access_token: token.access_token, required_scopes: ["read:users"] })
      )
      expect(verified).toMatchObject({ client_id, scopes: ["read:users"] })

      const refused = yield* Effect.promise(() =>
        client.m2m.authenticateToken({ access_token: token.access_token, required_scopes: ["write:users"] })
          .then(() => "accepted", (error: unknown) => String(error))
      )
      expect(refused).toMatch(/scope/i)
    }).pipe(provide))

  it.live("the SDK's B2B client verifies the emulator's tokens too, over the B2B key set route", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator
      const client = new stytch.B2BClient({
        project_id: emulator.projectId,
        secret: Redacted.value(emulator.secret),
        env: `${emulator.baseUrl}/`
      })
      const { m2m_client } = yield* Effect.promise(() => client.m2m.clients.create({ scopes: ["read:users"] }))
      const token = yield* Effect.promise(() =>
        client.m2m.token({ client_id: m2m_client.client_id, client_secret: m2m_client.client_secret })
      )
      const verified = yield* Effect.promise(() =>
        client.m2m.authenticateToken({ access_token: token.access_token, required_scopes: ["read:users"] })
      )
      expect(verified).toMatchObject({ client_id: m2m_client.client_id, scopes: ["read:users"] })
    }).pipe(provide))

  it.live("a token asked without scopes holds all the client's; a wrong secret is the SDK's invalid_client", () =>
    Effect.gen(function*() {
      const client = yield* sdk
      const { m2m_client } = yield* Effect.promise(() => client.m2m.clients.create({ scopes: ["read:users"] }))
      const token = yield* Effect.promise(() =>
        client.m2m.token({ client_id: m2m_client.client_id, client_secret: m2m_client.client_secret })
      )
      const verified = yield* Effect.promise(() => client.m2m.authenticateToken({ access_token: token.access_token }))
      expect(verified.scopes).toEqual(["read:users"])
      const error = yield* Effect.promise(() =>
        client.m2m.token({ client_id: m2m_client.client_id, client_secret: "not-the-secret-at-all" }).then(
          () => undefined,
          (error: { error_type?: string; status_code?: number }) => error
        )
      )
      expect(error).toMatchObject({ status_code: 400, error_type: "invalid_client" })
    }).pipe(provide))
})
