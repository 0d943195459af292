/**
 * Benchmark of `@stytch-effect/search`: does a walk's memory stay bounded by the page size and the
 * read-ahead whatever the total, and does read-ahead pay when the consumer has work of its own?
 *
 * The walks run over a synthetic `M2MClients` whose `search` makes each page on demand from the cursor
 * (the offset), so the source itself holds nothing and any growth would be the stream's.
 *
 * Memory: before each walk a full GC sets the baseline; at every page boundary the consumer forces a
 * GC and samples `heapUsed`, so the peak is what the walk keeps alive (garbage waiting for the next
 * collection would only add noise). Collecting every client with `Stream.runCollect` is measured the
 * same way for contrast, to show the method does see growth when there is some.
 *
 * Run with `node --expose-gc` (as `pnpm bench` does); `BENCH=search` runs only this one.
 */
import { M2MClient, M2MClients, M2MClientsSearchResponse, ResultsMetadata } from "@stytch-effect/core"
import { M2MClientsSearch } from "@stytch-effect/search"
import { Effect, Layer, Stream } from "effect"
import { publish } from "./internal/report.js"

const pageSize = 1000
const sizes = [10_000, 100_000] as const
/** The time the synthetic server takes to answer a page, in the async-consumer runs. */
const pageLatencyMillis = 20

// Validation is skipped because these values are valid by construction: checking each would cost the
// synthetic server far more than the walk being measured (an http layer decodes instead).
const makeClient = (n: number) =>
  new M2MClient({
    client_id: `m2m-client-test-${n.toString().padStart(8, "0")}`,
    client_name: `worker-${n}`,
    client_description: "A synthetic client for the search benchmark",
    status: "active",
    scopes: ["read:users", "write:users"],
    client_secret_last_four: "x9Qz",
    next_client_secret_last_four: null,
    trusted_metadata: { team: "billing", n }
  }, { disableValidation: true })

const notServed = () => Effect.dieMessage("the search benchmark serves clients.search only")

/** `total` clients made on demand; the cursor is the offset of the page it asks for. */
const syntheticClients = (total: number, latencyMillis: number) =>
  Layer.succeed(
    M2MClients,
    M2MClients.make({
      search: (request) =>
        Effect.sync(() => {
          const offset = request.cursor === undefined ? 0 : Number(request.cursor)
          const end = Math.min(total, offset + (request.limit ?? 100))
          const page: Array<M2MClient> = []
          for (let n = offset; n < end; n++) page.push(makeClient(n))
          return new M2MClientsSearchResponse({
            request_id: `request-id-test-${offset}`,
            status_code: 200,
            m2m_clients: page,
            results_metadata: new ResultsMetadata({ total, next_cursor: end < total ? String(end) : null })
          }, { disableValidation: true })
        }).pipe(latencyMillis > 0 ? Effect.delay(latencyMillis) : (self) => self),
      create: notServed,
      get: notServed,
      update: notServed,
      delete: notServed,
      secrets: { rotateStart: notServed, rotateCancel: notServed, rotate: notServed }
    })
  )

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (!collect) throw new Error("run with node --expose-gc")
  collect()
}

const heapUsed = () => process.memoryUsage().heapUsed

/** Peak live heap above the baseline while walking `total` clients, sampled at each page boundary. */
const peakHeapOfWalk = (total: number, readAhead: number) =>
  Effect.gen(function*() {
    gc()
    const baseline = heapUsed()
    let peak = 0
    let seen = 0
    yield* M2MClientsSearch.clients({ limit: pageSize }, { readAhead }).pipe(
      Stream.runForEach(() =>
        Effect.sync(() => {
          if (++seen % pageSize === 0) {
            gc()
            peak = Math.max(peak, heapUsed() - baseline)
          }
        })
      ),
      Effect.provide(syntheticClients(total, 0))
    )
    if (seen !== total) throw new Error(`walked ${seen} of ${total} clients`)
    return peak
  })

/** Live heap kept by a caller that holds every client: what bounded memory is compared against. */
const peakHeapOfCollect = (total: number) =>
  Effect.gen(function*() {
    gc()
    const baseline = heapUsed()
    const all = yield* M2MClientsSearch.clients({ limit: pageSize }).pipe(
      Stream.runCollect,
      Effect.provide(syntheticClients(total, 0))
    )
    gc()
    const peak = heapUsed() - baseline
    if (all.length !== total) throw new Error(`collected ${all.length} of ${total} clients`)
    return peak
  })

/** One tick of async work per client, as a consumer writing each client somewhere would have. */
const asyncWork = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const timedWalk = (total: number, readAhead: number, withWork: boolean) =>
  Effect.gen(function*() {
    let seen = 0
    const started = performance.now()
    yield* M2MClientsSearch.clients({ limit: pageSize }, { readAhead }).pipe(
      Stream.runForEach(() =>
        withWork ? Effect.zipRight(asyncWork, Effect.sync(() => seen++)) : Effect.sync(() => seen++)
      ),
      Effect.provide(syntheticClients(total, withWork ? pageLatencyMillis : 0))
    )
    if (seen !== total) throw new Error(`walked ${seen} of ${total} clients`)
    return (performance.now() - started) / 1000
  })

const runs = 3

/** Clients per second over a walk, with or without per-client async work and server latency: the median of a few. */
const clientsPerSecond = (total: number, readAhead: number, withWork: boolean) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    for (let i = 0; i < runs; i++) times.push(yield* timedWalk(total, readAhead, withWork))
    const seconds = times.sort((a, b) => a - b)[Math.floor(runs / 2)]!
    return { rate: total / seconds, seconds }
  })

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`
const rate = (perSecond: number) => `${Math.round(perSecond).toLocaleString("en-US")}/s`
const ratio = (small: number, large: number) => `${(large / small).toFixed(2)}×`

export const run = async (): Promise<string> => {
  let bounded = false
  const program = Effect.gen(function*() {
    // A first walk warms the JIT so the first measured row does not pay for compilation.
    yield* timedWalk(10_000, 1, false)

    // Peaks under a megabyte move by a few hundred kilobytes between runs, so a ratio of two of them says
    // little; the growth from 10,000 to 100,000 is compared with what keeping the clients adds instead.
    const rows: Array<[string, string, string, string]> = []
    const walkGrowth: Array<number> = []
    for (const readAhead of [0, 1]) {
      const [small, large] = [yield* peakHeapOfWalk(sizes[0], readAhead), yield* peakHeapOfWalk(sizes[1], readAhead)]
      walkGrowth.push(large - small)
      rows.push([
        `peak live heap above baseline, \`clients\` walk, readAhead ${readAhead}`,
        mb(small),
        mb(large),
        `${large >= small ? "+" : "−"}${mb(Math.abs(large - small))}`
      ])
    }
    const [kept10k, kept100k] = [yield* peakHeapOfCollect(sizes[0]), yield* peakHeapOfCollect(sizes[1])]
    rows.push([
      "for contrast: live heap after `Stream.runCollect` of every client",
      mb(kept10k),
      mb(kept100k),
      `+${mb(kept100k - kept10k)}`
    ])
    bounded = walkGrowth.every((growth) => growth < (kept100k - kept10k) / 10)

    for (const readAhead of [0, 1]) {
      const [small, large] = [
        yield* clientsPerSecond(sizes[0], readAhead, false),
        yield* clientsPerSecond(sizes[1], readAhead, false)
      ]
      rows.push([`clients/s, consumer does nothing, readAhead ${readAhead}`, rate(small.rate), rate(large.rate), ""])
    }
    const withWork: Array<{ rate: number; seconds: number }> = []
    for (const readAhead of [0, 1]) {
      const [small, large] = [
        yield* clientsPerSecond(sizes[0], readAhead, true),
        yield* clientsPerSecond(sizes[1], readAhead, true)
      ]
      withWork.push(small, large)
      rows.push([
        `clients/s, ${pageLatencyMillis} ms a page + one async tick a client, readAhead ${readAhead}`,
        `${rate(small.rate)} (${small.seconds.toFixed(2)} s)`,
        `${rate(large.rate)} (${large.seconds.toFixed(2)} s)`,
        ""
      ])
    }
    const [off10k, off100k, on10k, on100k] = withWork.map((run) => run.seconds) as [number, number, number, number]
    rows.push(["speed-up of readAhead 1 over 0, with consumer work", ratio(on10k, off10k), ratio(on100k, off100k), ""])
    return rows
  })
  const rows = await Effect.runPromise(program)

  const [small, large] = sizes.map((n) => n.toLocaleString("en-US"))
  const table = [
    `### search: walking ${small} and ${large} clients, ${pageSize} a page`,
    "",
    `| measure | ${small} clients | ${large} clients | from ${small} to ${large} |`,
    "| --- | ---: | ---: | ---: |",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
    "",
    `- peak heap the same at both sizes (it grows by less than a tenth of what keeping the clients adds): ${
      bounded ? "met" : "**missed**"
    }`,
    "",
    `Heap figures are \`heapUsed\` after a forced GC at each page boundary, minus a ` +
    `baseline taken after a forced GC before the walk. Rates are the median of ${runs} walks; the async tick ` +
    "is a `setImmediate`."
  ].join("\n")
  return publish("search", table)
}
