/** `layerConfig`: credentials and base URL from the environment, with errors that name the variable. */
import { HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { ConfigProvider, Effect, Layer } from "effect"
import { HttpM2MClients } from "../src/index.js"
import { fakeStytch, ok, wireClient } from "./fakeStytch.js"

const withEnv = (env: Record<string, string>) => {
  const fake = fakeStytch(() => ok({ m2m_client: wireClient() }))
  const layer = HttpM2MClients.layerConfig({ retry: false }).pipe(
    Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client)),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
  return Effect.flatMap(M2MClients, (clients) => clients.get({ client_id: "a" })).pipe(
    Effect.provide(layer),
    Effect.map(() => fake.sent[0]!)
  )
}

const complete = { STYTCH_PROJECT_ID: "project-live-abc", STYTCH_SECRET: "secret-live-xyz" }

describe("layerConfig", () => {
  it.effect("reads the project id and secret", () =>
    Effect.gen(function*() {
      const sent = yield* withEnv(complete)
      expect(sent.url.origin).toBe("https://api.stytch.com")
      expect(sent.headers.authorization).toBe(
        `Basic ${Buffer.from("project-live-abc:secret-live-xyz").toString("base64")}`
      )
    }))

  it.effect("reads an optional base URL, keeping its origin", () =>
    Effect.gen(function*() {
      const sent = yield* withEnv({ ...complete, STYTCH_BASE_URL: "http://127.0.0.1:4010/ignored" })
      expect(sent.url.href).toBe("http://127.0.0.1:4010/v1/m2m/clients/a")
    }))

  it.effect("takes an empty base URL as unset", () =>
    Effect.gen(function*() {
      const sent = yield* withEnv({ ...complete, STYTCH_BASE_URL: "" })
      expect(sent.url.origin).toBe("https://api.stytch.com")
    }))

  it.effect.each(
    [
      ["STYTCH_PROJECT_ID", { STYTCH_SECRET: "s" }],
      ["STYTCH_PROJECT_ID", { STYTCH_PROJECT_ID: "", STYTCH_SECRET: "s" }],
      ["STYTCH_SECRET", { STYTCH_PROJECT_ID: "p" }],
      ["STYTCH_SECRET", { STYTCH_PROJECT_ID: "p", STYTCH_SECRET: "" }],
      ["STYTCH_BASE_URL", { ...complete, STYTCH_BASE_URL: "http://stytch.example.com" }],
      ["STYTCH_BASE_URL", { ...complete, STYTCH_BASE_URL: "stytch.example.com" }]
    ] as const
  )("a ConfigError names %s when it is missing, empty or bad", ([name, env]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withEnv(env))
      expect(error._tag).toBe("ConfigError")
      expect(String(error)).toContain(name)
      expect(String(error)).not.toContain("secret-live-xyz")
    }))

  it.effect("keeps the secret Redacted", () =>
    Effect.gen(function*() {
      const config = yield* HttpM2MClients.config.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(complete))))
      )
      expect(String(config.secret)).toBe("<redacted>")
      expect(JSON.stringify(config)).not.toContain("secret-live-xyz")
    }))
})
