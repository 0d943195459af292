/**
 * An operation whose outcome is unknown (no answer, a 5XX, Ctrl-C) says so: bulk work, and a rotation step
 * (with how to end the rotation).
 */
import { describe, expect, layer } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { Emulator } from "@stytch-effect/emulator"
import { Effect } from "effect"
import { beforeAll, vi } from "vitest"
import { build, cli } from "./support.js"

beforeAll(build, 120_000)
vi.setConfig({ testTimeout: 120_000 })

describe.concurrent("stytch-m2m unknown outcomes", () => {
  layer(Emulator.layerMemory(), { excludeTestServices: true })("against an emulator with faults", (it) => {
    describe.sequential("unknown outcomes", () => {
      it.effect("bulk work says which failures may have been carried out anyway", () =>
        Effect.gen(function*() {
          const clients = yield* M2MClients
          yield* Effect.forEach(["unknown-0", "unknown-1"], (client_id) => clients.create({ client_id, scopes: [] }))
          const { faults } = yield* Emulator
          yield* faults.setRoute("delete", { commitThenFail: { share: 1, status: 500 } })
          const result = yield* cli(["clients", "delete", "unknown-0", "unknown-1"]).pipe(Effect.ensuring(faults.clear))
          expect(result.code).toBe(6)
          // Both were deleted, though each answer was a 500: the summary must not leave them as simply not done.
          expect(yield* Effect.isSuccess(clients.get({ client_id: "unknown-0" }))).toBe(false)
          expect(result.stderr).toContain("failed 2: ServerError 2")
          expect(result.stderr).toMatch(/outcome unknown for 2 .*may have been carried out/)
        }))

      it.effect("rotate-start that may have started says how to cancel the rotation it could not show", () =>
        Effect.gen(function*() {
          const clients = yield* M2MClients
          yield* clients.create({ client_id: "lost-0", scopes: [] })
          const { faults } = yield* Emulator
          yield* faults.setRoute("rotateStart", { drop: { share: 1, afterCommit: true } })
          const result = yield* cli(["secrets", "rotate-start", "lost-0"]).pipe(Effect.ensuring(faults.clear))
          expect(result.code).toBe(5)
          // It did start; the operator never saw the next secret and must cancel, never finish.
          expect((yield* clients.get({ client_id: "lost-0" })).m2m_client.next_client_secret_last_four).not.toBeNull()
          expect(result.stderr).toMatch(/may have started/)
          expect(result.stderr).toContain("stytch-m2m secrets rotate-cancel lost-0")
        }))

      it.effect("the guided rotation does not say it is still in progress when the finish may have happened", () =>
        Effect.gen(function*() {
          const clients = yield* M2MClients
          yield* clients.create({ client_id: "guided-lost-0", scopes: [] })
          const { faults } = yield* Emulator
          yield* faults.setRoute("rotate", { commitThenFail: { share: 1, status: 500 } })
          let answered = false
          const session = yield* cli(["secrets", "rotate", "guided-lost-0"], {
            pty: true,
            interact: (output, { write }) => {
              if (!answered && output.includes("Is the next secret deployed")) {
                answered = true
                write("\r")
              }
            }
          }).pipe(Effect.ensuring(faults.clear))
          expect(session.code).toBe(5)
          // The finish was carried out: the rotation is not in progress, whatever the answer said.
          expect((yield* clients.get({ client_id: "guided-lost-0" })).m2m_client.next_client_secret_last_four)
            .toBeNull()
          expect(session.stdout).not.toContain("The rotation is still in progress")
          expect(session.stdout).toMatch(/may have finished/)
          expect(session.stdout).toContain("stytch-m2m clients get guided-lost-0")
        }))
    })
  })
})
