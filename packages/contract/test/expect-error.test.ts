// The suite's own error assertion, when it fails: it must report the error it got. An error failed
// inside a span (every operation's) reaches the caller in Effect's span-capture Proxy, which chai's
// printer recursed on until the stack overflowed, so a wrong error showed as a RangeError instead.
import { expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { MemoryM2MClients } from "@stytch-effect/memory"
import { Effect } from "effect"
import { expectError } from "../src/index.js"

it.effect("a wrong error fails the assertion naming the error it got, not with a RangeError", () =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    const error = yield* Effect.flip(clients.get({ client_id: "nobody" }))
    let thrown: unknown
    try {
      expectError(error, { _tag: "DuplicateClientId" })
    } catch (failure) {
      thrown = failure
    }
    expect(thrown).toBeInstanceOf(Error)
    expect((thrown as Error).name).toBe("AssertionError")
    // What the report shows as the error it got.
    expect((thrown as { readonly actual?: unknown }).actual).toMatchObject({ _tag: "ClientNotFound" })
    // The right error still passes.
    expectError(error, { _tag: "ClientNotFound", error_type: "m2m_client_not_found", status_code: 404 })
  }).pipe(Effect.provide(MemoryM2MClients.layer())))
