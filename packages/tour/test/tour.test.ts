import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { formatSummary, M2MClientsEmulated, story, tour } from "../src/index.js"

describe("the tour", () => {
  it.live("runs every step against the emulator over loopback and reports what it did", () =>
    Effect.gen(function*() {
      const summary = yield* tour({ clients: 300, concurrency: 8, runId: "tour-test", deactivate: 20 })
      expect(summary.steps.map(({ count, step }) => [step, count])).toEqual([
        ["create", 300],
        // Clients 0..299 hold write:invoices when (index + 1) % 3 === 0 or index % 5 === 1.
        [
          "search (write:invoices)",
          Array.from({ length: 300 }, (_, i) => i).filter((i) => (i + 1) % 3 === 0 || i % 5 === 1).length
        ],
        ["deactivate", 20],
        ["rotate secret", 1],
        ["get a missing client", 1],
        ["delete", 300]
      ])
      const table = formatSummary(summary)
      expect(table.split("\n")).toHaveLength(2 + summary.steps.length)
      expect(table).toMatch(/^create\s+300\s+\d+ ms$/m)
    }).pipe(
      Effect.provide(M2MClientsEmulated.pipe(Layer.provide(NodeHttpClient.layerUndici))),
      Effect.provide(Logger.remove(Logger.defaultLogger))
    ), 60_000)

  it.live(
    "tells the token story: cached tokens, 403 without the scope, rotation, deactivation",
    () =>
      Effect.gen(function*() {
        const steps = yield* story({ runId: "story-test" })
        // Each count is 1 only when the step saw what Stytch's semantics say (see Story.ts).
        expect(steps.map(({ count, step }) => [step, count])).toEqual([
          ["worker calls (cached token)", 3],
          ["403 without the scope", 1],
          ["rotation (token per secret)", 1],
          ["deactivated client", 1]
        ])
      }).pipe(
        Effect.provide(M2MClientsEmulated.pipe(Layer.provideMerge(NodeHttpClient.layerUndici))),
        Effect.provide(Logger.remove(Logger.defaultLogger))
      ),
    60_000
  )
})
