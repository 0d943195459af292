/**
 * A secret or token pasted where a variable's name goes never reaches an error line.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Emulator } from "@stytch-effect/emulator"
import { Effect } from "effect"
import { beforeAll, vi } from "vitest"
import { build, cli, projectEnv, run } from "./support.js"

beforeAll(build, 120_000)
vi.setConfig({ testTimeout: 120_000 })

describe.concurrent("stytch-m2m variable names", () => {
  layer(Emulator.layerMemory(), { excludeTestServices: true })("against an emulator", (it) => {
    it.effect("a secret or token given where a variable's name goes is never echoed in the error", () =>
      Effect.gen(function*() {
        const secret = "probe-Secret_0123456789-abcdefghijklmnopqrstuvwx"
        const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9iZSJ9.c2lnbmF0dXJlLXByb2Jl"
        const env = yield* projectEnv
        const [create, tokenRun, verifyRun] = yield* Effect.all([
          cli(["clients", "create", "--secret-env", secret]),
          run(["token", "probe-x", "--secret-env", secret], { env }),
          run(["verify", "--token-env", token], { env })
        ], { concurrency: "unbounded" })
        for (const result of [create, tokenRun, verifyRun]) {
          expect(result.code).toBe(2)
          expect(result.stdout).toBe("")
          expect(result.stderr).not.toContain(secret)
          expect(result.stderr).not.toContain(token)
          expect(result.stderr).not.toContain("c2lnbmF0dXJlLXByb2Jl")
        }
        expect(create.stderr).toMatch(/name of an environment variable/)
        // A plain variable's name is still named, as before.
        const named = yield* cli(["clients", "create", "--secret-env", "PROBE_UNSET_VARIABLE"])
        expect(named.code).toBe(2)
        expect(named.stderr).toContain("PROBE_UNSET_VARIABLE is not set")
      }))
  })
})
