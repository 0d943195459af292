/**
 * The in-memory store at 100,000 clients: how fast it creates and gets clients through the
 * `M2MClients` service, and that search stays O(log n + page) per page, so a page deep into a walk
 * costs what the first one does and a full walk grows linearly with the number of clients.
 */
import { M2MClients, type M2MSearchQuery } from "@stytch-effect/core"
import { MemoryM2MClients } from "@stytch-effect/memory"
import { Effect, Redacted } from "effect"
import { publish } from "./internal/report.js"

const large = 100_000
const small = 10_000
const pageSize = 1000
const teams = 10

const now = Effect.sync(() => performance.now())

/** Milliseconds `self` takes, and its value. */
const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* now
    const value = yield* self
    return { value, millis: (yield* now) - start }
  })

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** One in `teams` clients holds each team's scope: a filter that matches a tenth of the store. */
const teamQuery: M2MSearchQuery = { operator: "OR", operands: [{ filter_name: "scopes", filter_value: ["team:3"] }] }

/** Every page of a search at `pageSize`; the cursors, so single pages can be timed again later. */
const walk = (clients: M2MClients.Service, query?: M2MSearchQuery) =>
  Effect.gen(function*() {
    const cursors: Array<string | undefined> = []
    let cursor: string | undefined
    let seen = 0
    do {
      cursors.push(cursor)
      const page = yield* clients.search({
        limit: pageSize,
        ...(cursor === undefined ? {} : { cursor }),
        ...(query ? { query } : {})
      })
      seen += page.m2m_clients.length
      cursor = page.results_metadata.next_cursor ?? undefined
    } while (cursor !== undefined)
    return { seen, cursors }
  })

/** A store of `count` clients, started from a seed (the fill is not what is measured). */
const seeded = (count: number) =>
  MemoryM2MClients.make({
    seed: Array.from({ length: count }, (_, i) => ({
      client_id: `seeded-${i}`,
      client_secret: Redacted.make(`Seeded-Secret-${i}-Q7wZ`),
      scopes: [`team:${i % teams}`]
    }))
  })

/** Collects garbage (with `--expose-gc`, as `pnpm bench` runs) so one measure's garbage is not the next one's pause. */
const collect = Effect.sync(() => (globalThis as { gc?: () => void }).gc?.())

/** Median milliseconds of a full walk over a fresh store of `count` clients. */
const walkTime = (count: number, query?: M2MSearchQuery) =>
  Effect.gen(function*() {
    const store = yield* seeded(count)
    yield* walk(store.clients, query) // warm-up, untimed
    const times: Array<number> = []
    for (let run = 0; run < 7; run++) {
      yield* collect
      const { millis, value } = yield* timed(walk(store.clients, query))
      if (query === undefined && value.seen !== count) return yield* Effect.dieMessage(`walk saw ${value.seen}`)
      times.push(millis)
    }
    return median(times)
  })

/** Creates, gets and single pages on a store filled through the service. */
const throughTheService = Effect.gen(function*() {
  const rows: Array<[string, string]> = []
  const store = yield* MemoryM2MClients.make()
  const clients = store.clients

  const creates = yield* timed(Effect.forEach(
    Array.from({ length: large }, (_, i) => i),
    (i) => clients.create({ scopes: [`team:${i % teams}`], client_name: `worker ${i}` }),
    { discard: true }
  ))
  rows.push(["creates through the service, 100,000 in a row", `${Math.round(large / (creates.millis / 1000))}/s`])

  const ids = (yield* store.stored).map((stored) => stored.client.client_id)
  yield* collect
  const gets = yield* timed(Effect.forEach(
    Array.from({ length: 20_000 }, (_, i) => ids[(i * 7919) % ids.length]!),
    (client_id) => clients.get({ client_id }),
    { discard: true }
  ))
  rows.push(["gets at 100,000 clients, 20,000 scattered ids", `${Math.round(20_000 / (gets.millis / 1000))}/s`])

  const { cursors, seen } = yield* walk(clients)
  if (seen !== large) return yield* Effect.dieMessage(`walk saw ${seen} clients`)
  // The first and the last page, timed in turns so that warm-up and garbage fall on both alike.
  const page = (cursor: string | undefined) =>
    Effect.map(timed(clients.search({ limit: pageSize, ...(cursor === undefined ? {} : { cursor }) })), (t) => t.millis)
  yield* collect
  const first: Array<number> = []
  const last: Array<number> = []
  for (let run = 0; run < 51; run++) {
    first.push(yield* page(cursors[0]))
    last.push(yield* page(cursors.at(-1)))
  }
  rows.push(["one page of 1000, first page (median of 51)", `${median(first).toFixed(2)} ms`])
  rows.push(["one page of 1000, last page (median of 51)", `${median(last).toFixed(2)} ms`])
  return rows
})

const program = Effect.gen(function*() {
  const rows = yield* throughTheService
  yield* collect
  const smallWalk = yield* walkTime(small)
  const largeWalk = yield* walkTime(large)
  const smallFiltered = yield* walkTime(small, teamQuery)
  const largeFiltered = yield* walkTime(large, teamQuery)
  rows.push(["full walk at 1000 a page, 10,000 clients (median of 7)", `${smallWalk.toFixed(1)} ms`])
  rows.push(["full walk at 1000 a page, 100,000 clients (median of 7)", `${largeWalk.toFixed(1)} ms`])
  rows.push(["ratio 100,000 / 10,000 (10x is linear, 100x quadratic)", `${(largeWalk / smallWalk).toFixed(1)}x`])
  rows.push(["filtered walk (a tenth match), 10,000 clients (median of 7)", `${smallFiltered.toFixed(1)} ms`])
  rows.push(["filtered walk (a tenth match), 100,000 clients (median of 7)", `${largeFiltered.toFixed(1)} ms`])
  rows.push(["filtered ratio 100,000 / 10,000", `${(largeFiltered / smallFiltered).toFixed(1)}x`])

  return [
    "## memory: the in-memory store at 100,000 clients",
    "",
    `Measured in one run. Creates and gets go through \`M2MClients\` (request`,
    "validation and a span each); each walk runs over a fresh store started from a seed.",
    "",
    "| measure | value |",
    "| --- | --- |",
    ...rows.map(([measure, value]) => `| ${measure} | ${value} |`)
  ].join("\n")
})

export const run = async (): Promise<string> => publish("memory", await Effect.runPromise(program))
