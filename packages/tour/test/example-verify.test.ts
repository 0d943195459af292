import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program, TestLive } from "../examples/verify.js"

it.live("the README's verifying example refuses a scope the token lacks, by tag", () =>
  Effect.gen(function*() {
    expect(yield* program).toMatch(/^m2m-client-test-.* lacks write:invoices$/)
  }).pipe(Effect.provide(TestLive)))
