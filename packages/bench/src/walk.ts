/**
 * A search walk over HTTP: `M2MClientsSearch.clients` through our http layer (over
 * `NodeHttpClient.layerUndici`) against the emulator on loopback, at 10,000 and 100,000 clients, a page
 * of 1000, with read-ahead 0 and 1. Does the walking process's memory stay bounded by the page size
 * whatever the total, and does read-ahead pay when the consumer has work of its own?
 *
 * The emulator runs in a child process, seeded directly through its store (creating 100,000 clients
 * over HTTP would take longer than the whole benchmark may). Were it in this process, its store of
 * 100,000 clients would be in the heap being measured and would swamp the walk's own few MB; in a child,
 * every byte measured here is the client's: the HTTP client, the page being decoded and the stream's
 * buffer. Heap is sampled as in search.ts: a forced GC before the walk sets the baseline, and a forced GC
 * at each page boundary gives the live heap then, so garbage awaiting collection does not count.
 *
 * `BENCH=walk` runs only this one.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { HttpM2MClients } from "@stytch-effect/http"
import { M2MClientsSearch } from "@stytch-effect/search"
import { Effect, Layer, ManagedRuntime, Redacted, Stream } from "effect"
import { startSeeded } from "./internal/emulatorProcess.js"
import { gc, mb, perSecond, publish, sorted, times } from "./internal/report.js"

const pageSize = 1000
const sizes = [10_000, 100_000] as const
const readAheads = [0, 1] as const

/**
 * The consumer's own work: one event-loop turn per client, and a wait at the end of each page, as a
 * consumer writing each page of clients somewhere in a batch would have. Waiting (not computing) is what
 * read-ahead can overlap with fetching the next page; decoding that page competes for the same thread.
 */
const pageWaitMillis = 20
const perClientWork = (seen: number) =>
  Effect.zipRight(
    Effect.async<void>((resume) => {
      setImmediate(() => resume(Effect.void))
    }),
    seen % pageSize === 0 ? Effect.sleep(pageWaitMillis) : Effect.void
  )

/** Walks every client, calling `onClient` with the running count; fails unless it saw `total`. */
const walk = (total: number, readAhead: number, onClient: (seen: number) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    let seen = 0
    yield* M2MClientsSearch.clients({ limit: pageSize }, { readAhead }).pipe(
      Stream.runForEach(() => onClient(++seen))
    )
    if (seen !== total) return yield* Effect.dieMessage(`walked ${seen} of ${total} clients`)
  })

const peakHeapAboveBaseline = (total: number, readAhead: number) =>
  Effect.gen(function*() {
    gc()
    const baseline = process.memoryUsage().heapUsed
    let peak = 0
    yield* walk(total, readAhead, (seen) =>
      Effect.sync(() => {
        if (seen % pageSize === 0) {
          gc()
          peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
        }
      }))
    return peak
  })

/** Live heap held by a caller that keeps every client: what a walk that leaked would look like. */
const heapOfCollect = (total: number) =>
  Effect.gen(function*() {
    gc()
    const baseline = process.memoryUsage().heapUsed
    const all = yield* M2MClientsSearch.clients({ limit: pageSize }).pipe(Stream.runCollect)
    gc()
    const held = process.memoryUsage().heapUsed - baseline
    if (all.length !== total) return yield* Effect.dieMessage(`collected ${all.length} of ${total} clients`)
    return held
  })

/** Seconds for one walk, the consumer doing nothing or its own work. */
const walkSeconds = (total: number, readAhead: number, withWork: boolean) =>
  Effect.gen(function*() {
    gc()
    const started = performance.now()
    yield* walk(total, readAhead, (seen) => withWork ? perClientWork(seen) : Effect.void)
    return (performance.now() - started) / 1000
  })

interface SizeResult {
  readonly peak: Record<number, number>
  readonly collected: number
  /** Median seconds per walk, by read-ahead, without and with consumer work. */
  readonly idle: Record<number, number>
  readonly busy: Record<number, number>
  readonly runs: number
}

const median = (values: ReadonlyArray<number>) => sorted(values)[Math.floor(values.length / 2)]!

/** Timed walks alternate read-ahead 0 and 1 (0, 1, 1, 0, ...) so drift falls on both alike. */
const measureSize = (total: number, runs: number) =>
  Effect.gen(function*() {
    // Warms the JIT, the connection and the emulator's answers before anything is measured.
    yield* M2MClientsSearch.clients({ limit: pageSize }).pipe(Stream.take(10_000), Stream.runDrain)
    const peak: Record<number, number> = {}
    for (const readAhead of readAheads) peak[readAhead] = yield* peakHeapAboveBaseline(total, readAhead)
    const collected = yield* heapOfCollect(total)
    const idle: Record<number, Array<number>> = { 0: [], 1: [] }
    const busy: Record<number, Array<number>> = { 0: [], 1: [] }
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? readAheads : [...readAheads].reverse()
      for (const readAhead of order) idle[readAhead]!.push(yield* walkSeconds(total, readAhead, false))
      for (const readAhead of order) busy[readAhead]!.push(yield* walkSeconds(total, readAhead, true))
    }
    return {
      peak,
      collected,
      idle: { 0: median(idle[0]!), 1: median(idle[1]!) },
      busy: { 0: median(busy[0]!), 1: median(busy[1]!) },
      runs
    } satisfies SizeResult
  })

const overEmulator = async (total: number, runs: number): Promise<SizeResult> => {
  const emulator = await startSeeded(total)
  try {
    const runtime = ManagedRuntime.make(
      HttpM2MClients.layer({
        projectId: emulator.projectId,
        secret: Redacted.make(emulator.secret),
        baseUrl: emulator.baseUrl
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
    try {
      return await runtime.runPromise(measureSize(total, runs))
    } finally {
      await runtime.dispose()
    }
  } finally {
    await emulator.stop()
  }
}

/** Fewer timed walks at 100,000 clients keep the whole benchmark within its time. */
const runsFor = (total: number) => total <= 10_000 ? 3 : 1

export const run = async (): Promise<string> => {
  const results: Array<SizeResult> = []
  for (const total of sizes) results.push(await overEmulator(total, runsFor(total)))
  const [small, large] = results as [SizeResult, SizeResult]
  const [smallName, largeName] = sizes.map((n) => n.toLocaleString("en-US"))

  const rows: Array<ReadonlyArray<string>> = []
  for (const readAhead of readAheads) {
    rows.push([
      `peak live heap above baseline, readAhead ${readAhead}`,
      mb(small.peak[readAhead]!),
      mb(large.peak[readAhead]!),
      times(large.peak[readAhead]! / small.peak[readAhead]!)
    ])
  }
  rows.push([
    "for contrast: live heap after `Stream.runCollect` of every client",
    mb(small.collected),
    mb(large.collected),
    times(large.collected / small.collected)
  ])
  const rate = (total: number, seconds: number) => `${perSecond(total / seconds)}/s (${seconds.toFixed(2)} s)`
  for (
    const [label, pick] of [
      ["consumer does nothing", "idle"],
      [`consumer works: a turn a client, ${pageWaitMillis} ms a page`, "busy"]
    ] as const
  ) {
    for (const readAhead of readAheads) {
      rows.push([
        `clients/s, ${label}, readAhead ${readAhead}`,
        rate(sizes[0], small[pick][readAhead]!),
        rate(sizes[1], large[pick][readAhead]!),
        ""
      ])
    }
    rows.push([
      `speed-up of readAhead 1 over 0, ${label}`,
      times(small[pick][0]! / small[pick][1]!),
      times(large[pick][0]! / large[pick][1]!),
      ""
    ])
  }

  // Sub-MB peaks wobble by a few hundred KB from run to run, so "the same" is judged against the growth
  // that keeping the clients shows: a walk that held them would grow by about as much.
  const keptGrowth = large.collected - small.collected
  const heapBounded = readAheads.every((readAhead) => large.peak[readAhead]! - small.peak[readAhead]! < keptGrowth / 10)
  const readAheadPays = small.busy[0]! / small.busy[1]! > 1.05 && large.busy[0]! / large.busy[1]! > 1.05
  return publish(
    "walk",
    [
      `### walk: \`M2MClientsSearch.clients\` over HTTP, ${smallName} and ${largeName} clients, ${pageSize} a page`,
      "",
      `| measure | ${smallName} clients | ${largeName} clients | ${largeName} ÷ ${smallName} |`,
      "| --- | ---: | ---: | ---: |",
      ...rows.map((row) => `| ${row.join(" | ")} |`),
      "",
      `- peak heap the same at both sizes (it grows by less than a tenth of what keeping the clients adds, ` +
      `${mb(keptGrowth)}): ${heapBounded ? "met" : "**missed**"}`,
      `- read-ahead faster (by more than 5%) when the consumer works per client: ${
        readAheadPays ? "met" : "**missed**"
      }`,
      "",
      "Method: our http layer over `NodeHttpClient.layerUndici` (default options) walks an emulator running " +
      "in a child process, its memory store seeded directly with the clients, so the walking process's heap " +
      "holds only the client side. Heap: `heapUsed` after a forced GC at each page boundary, minus a baseline " +
      "taken after a forced GC before the walk. Rates: after an untimed walk over the first 10,000 clients, the median of " +
      `${small.runs} walks at ${smallName} and ${large.runs} at ${largeName}, read-ahead 0 and 1 alternating; ` +
      `the consumer's work is one \`setImmediate\` per client and a ${pageWaitMillis} ms \`Effect.sleep\` per page.`
    ].join("\n")
  )
}
