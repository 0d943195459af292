/**
 * The largest search the bounds accept, against the emulator holding 100,000 clients: how long it takes,
 * and how long a `get` sent beside it waits. Before the bounds and the compiled query, 15,000 operands
 * over 10,000 clients held the emulator's event loop 3.6 s, and a `get` waited as long.
 *
 * The search has `maxSearchOperands` operands of `maxSearchFilterValues` values each (the body near the
 * emulator's 1 MiB limit), and matches no client, so one page reads all 100,000 and the exact total
 * reads them again: the most one request can make the store do. Two shapes: an `OR` of scope operands
 * (one set of 32,000 values) and an `AND` of them (each client's scopes against 32 masks), the `AND`
 * with all operands but the last holding the clients' own `read:users`, so each client meets all but one.
 * Each round's query differs in one value, so the store's remembered total of the last few queries
 * never spares it the second pass.
 *
 * Raw `undici.request` on both sides, so the figures are the server's: the emulator runs in a child
 * process seeded through its store (see internal/emulatorProcess.ts). `BENCH=searchCost` runs only this.
 */
import { maxSearchFilterValues, maxSearchOperands } from "@stytch-effect/core"
import { setTimeout as sleep } from "node:timers/promises"
import { Agent, request } from "undici"
import { startSeeded } from "./internal/emulatorProcess.js"
import { publish, quantile, sorted } from "./internal/report.js"

const clients = 100_000
const rounds = 10
/** When the get is sent after the search: enough for the search's body to be on its way in. */
const getDelayMillis = 5

type Shape = "OR" | "AND"

/** The query of one round: each round's differs in one value, so the store's count of its total is not reused. */
const queryOf = (shape: Shape, round: number) => ({
  query: {
    operator: shape,
    operands: Array.from({ length: maxSearchOperands }, (_, operand) => ({
      filter_name: "scopes",
      filter_value: Array.from(
        { length: maxSearchFilterValues },
        (_, value) =>
          shape === "AND" && value === 0 && operand < maxSearchOperands - 1
            ? "read:users"
            : value === 1 && operand === 0
            ? `round-${round}`
            : `no-such-scope-${operand.toString().padStart(2, "0")}-${value.toString().padStart(4, "0")}`
      )
    }))
  },
  limit: 1000
})

export const run = async (): Promise<string> => {
  const emulator = await startSeeded(clients)
  // One connection each, so the get never queues behind the search on the client's side.
  const dispatcher = new Agent({ connections: 8 })
  const authorization = `Basic ${Buffer.from(`${emulator.projectId}:${emulator.secret}`).toString("base64")}`
  const headers = { authorization, "content-type": "application/json" }
  const timed = async (send: () => Promise<{ statusCode: number; body: { text: () => Promise<string> } }>) => {
    const started = performance.now()
    const answer = await send()
    const text = await answer.body.text()
    return { millis: performance.now() - started, status: answer.statusCode, text }
  }
  const get = () =>
    timed(() =>
      request(`${emulator.baseUrl}/v1/m2m/clients/m2m-client-test-00000042`, { method: "GET", headers, dispatcher })
    )
  const search = (body: string) =>
    timed(() => request(`${emulator.baseUrl}/v1/m2m/clients/search`, { method: "POST", headers, body, dispatcher }))

  try {
    const idle: Array<number> = []
    for (let i = 0; i < 50; i++) idle.push((await get()).millis)
    const rows: Array<string> = []
    for (const shape of ["OR", "AND"] as const) {
      let bytes = 0
      const searches: Array<number> = []
      const gets: Array<number> = []
      for (let round = 0; round < rounds + 1; round++) {
        const body = JSON.stringify(queryOf(shape, round))
        bytes = Buffer.byteLength(body)
        const searching = search(body)
        await sleep(getDelayMillis)
        const [searched, got] = await Promise.all([searching, get()])
        if (searched.status !== 200 || got.status !== 200) {
          throw new Error(`search answered ${searched.status}, get ${got.status}: ${searched.text.slice(0, 200)}`)
        }
        const page = JSON.parse(searched.text) as { m2m_clients: Array<unknown>; results_metadata: { total: number } }
        if (page.m2m_clients.length !== 0 || page.results_metadata.total !== 0) {
          throw new Error(`the search matched ${page.results_metadata.total} clients, not none`)
        }
        // The first round warms the server's code paths up.
        if (round > 0) {
          searches.push(searched.millis)
          gets.push(got.millis)
        }
      }
      const s = sorted(searches)
      const g = sorted(gets)
      rows.push(
        `| ${shape} of ${maxSearchOperands} × ${maxSearchFilterValues.toLocaleString("en-US")} scopes | ${
          (bytes / 1024).toFixed(0)
        } KiB | ${quantile(s, 0.5).toFixed(1)} | ${s.at(-1)!.toFixed(1)} | ${quantile(g, 0.5).toFixed(1)} | ${
          g.at(-1)!.toFixed(1)
        } |`
      )
    }
    const idleSorted = sorted(idle)
    return publish(
      "search-cost",
      [
        `### The largest accepted search over ${clients.toLocaleString("en-US")} clients, and a get beside it`,
        "",
        "| search | body | search p50 ms | search max ms | concurrent get p50 ms | concurrent get max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        ...rows,
        "",
        `An idle get: p50 ${quantile(idleSorted, 0.5).toFixed(2)} ms.`,
        "",
        `Method: the emulator runs in a child process over a store seeded with ${
          clients.toLocaleString("en-US")
        } clients (two scopes each). ` +
        `Each of ${rounds} rounds (after one warm-up) sends the search, waits ${getDelayMillis} ms and sends a ` +
        "get on another connection; times are from sending to the whole answer read, with raw `undici.request`. " +
        "The search matches nothing, so its page reads every client and its exact total reads them all again. " +
        "The get's wait is mostly the search's: the server runs one request at a time on its event loop."
      ].join("\n")
    )
  } finally {
    await dispatcher.close()
    await emulator.stop()
  }
}
