/**
 * Arguments an operator's shell may get wrong (an unset variable gives an empty value): refused, never widened.
 */
import { describe, expect, layer } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { Emulator } from "@stytch-effect/emulator"
import { Effect, Redacted } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, vi } from "vitest"
import { build, cli, jsonLines, projectEnv, run } from "./support.js"

beforeAll(build, 120_000)
vi.setConfig({ testTimeout: 120_000 })

const exists = (client_id: string) =>
  Effect.flatMap(M2MClients, (clients) => Effect.isSuccess(clients.get({ client_id })))

describe.concurrent("stytch-m2m arguments", () => {
  layer(Emulator.layerMemory(), { excludeTestServices: true })("against an emulator", (it) => {
    it.effect("an empty --scope, --name or --id is a usage error, never a wider token or selection", () =>
      Effect.gen(function*() {
        const clients = yield* M2MClients
        yield* Effect.forEach(["empty-0", "empty-1"], (client_id) =>
          clients.create({
            client_id,
            scopes: ["team:empty", "admin:empty"],
            client_secret: Redacted.make("empty-test-secret-0a1b2c")
          }))
        const env = yield* projectEnv
        const [tokenRun, deleteById, deleteByName, list, create] = yield* Effect.all([
          // `--scope "$SCOPE"` with SCOPE unset must not get a token with every scope the client holds.
          run(["token", "empty-0", "--scope", ""], {
            env: { ...env, STYTCH_CLIENT_SECRET: "empty-test-secret-0a1b2c" }
          }),
          cli(["clients", "delete", "--id", "", "--scope", "team:empty", "--yes"]),
          cli(["clients", "delete", "--scope", "team:empty", "--name", "", "--yes", "--json"]),
          cli(["clients", "list", "--name", "", "--json"]),
          cli(["clients", "create", "--id", "empty-2", "--scope", ""])
        ], { concurrency: "unbounded" })
        for (const result of [tokenRun, deleteById, deleteByName, list, create]) {
          expect(result.code).toBe(2)
          expect(result.stdout).toBe("")
          expect(result.stderr).toMatch(/empty/)
        }
        expect(yield* exists("empty-0")).toBe(true)
        expect(yield* exists("empty-1")).toBe(true)
        expect(yield* exists("empty-2")).toBe(false)
        // A value that is only optional, not repeated, may still be empty: clearing a description.
        const cleared = yield* cli(["clients", "update", "empty-1", "--description", "", "--json"])
        expect(cleared.code).toBe(0)
        expect(jsonLines(cleared.stdout)[0].client.client_description).toBe("")
      }))

    it.effect("--emulator replaces a damaged cached signing key instead of dying", () =>
      Effect.gen(function*() {
        const cache = mkdtempSync(join(tmpdir(), "stytch-m2m-cache-"))
        mkdirSync(join(cache, "stytch-m2m"))
        writeFileSync(join(cache, "stytch-m2m", "emulator-signing-key.pem"), "not a key\n")
        const result = yield* run(["--emulator", "clients", "get", "demo-billing-worker", "--json"], {
          env: { XDG_CACHE_HOME: cache }
        })
        expect(result.stderr).not.toMatch(/ERROR|\n\s+at /)
        expect(result.code).toBe(0)
        expect(jsonLines(result.stdout)[0].client.client_id).toBe("demo-billing-worker")
      }))

    it.effect("verify refuses a negative --max-age as a usage error rather than reading it as zero", () =>
      Effect.gen(function*() {
        const env = yield* projectEnv
        const result = yield* run(["verify", "--max-age", "-5 minutes"], { env, input: "x.y.z\n" })
        expect(result.code).toBe(2)
      }))
  })
})
