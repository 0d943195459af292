/**
 * Times the five contenders against one emulator in a child process: warm-up first, then rounds in
 * which each contender makes a block of calls, in an order rotated every round so that drift (the
 * JIT, the server's heap, the machine) falls on all of them alike. Latency is per call; calls/s is the
 * calls over the wall time of that contender's blocks; client CPU is `process.cpuUsage()` over its
 * blocks divided by its calls, which is the cost that stays visible when the server is the bottleneck.
 */
import type { Contender } from "./contenders.js"
import { baselineName, createTarget, makeContenders } from "./contenders.js"
import type { EmulatorProcess } from "./emulatorProcess.js"
import { startStandalone } from "./emulatorProcess.js"
import { gc, micros, perSecond, quantile, sorted, times } from "./report.js"

export interface ComparisonOptions {
  /** Calls in flight at once: 1 for the per-call cost, more for throughput under load. */
  readonly inFlight: number
  readonly warmupCalls: number
  readonly rounds: number
  readonly callsPerRound: number
}

interface Tally {
  readonly latencies: Array<number>
  wallMillis: number
  cpuMicros: number
}

export interface ContenderResult {
  readonly name: string
  readonly calls: number
  readonly p50: number
  readonly p99: number
  readonly perSecond: number
  readonly cpuMicrosPerCall: number
}

/** `calls` gets with `inFlight` of them outstanding at any time. */
const block = async (contender: Contender, calls: number, inFlight: number, expected: string, tally?: Tally) => {
  let started = 0
  const latencies: Array<number> = []
  const worker = async () => {
    while (started < calls) {
      started++
      const start = performance.now()
      const id = await contender.get()
      latencies.push(performance.now() - start)
      if (id !== expected) throw new Error(`${contender.name} got ${id}, not ${expected}`)
    }
  }
  const cpu = process.cpuUsage()
  const start = performance.now()
  await Promise.all(Array.from({ length: Math.min(inFlight, calls) }, worker))
  const wall = performance.now() - start
  const { system, user } = process.cpuUsage(cpu)
  if (tally) {
    for (const latency of latencies) tally.latencies.push(latency)
    tally.wallMillis += wall
    tally.cpuMicros += user + system
  }
}

export const compare = async (
  options: ComparisonOptions,
  make: (emulator: EmulatorProcess, clientId: string) => Promise<ReadonlyArray<Contender>> = makeContenders
): Promise<ReadonlyArray<ContenderResult>> => {
  const emulator = await startStandalone()
  try {
    const target = await createTarget(emulator)
    const contenders = await make(emulator, target)
    try {
      for (const contender of contenders) await block(contender, options.warmupCalls, options.inFlight, target)
      const tallies = contenders.map((): Tally => ({ latencies: [], wallMillis: 0, cpuMicros: 0 }))
      for (let round = 0; round < options.rounds; round++) {
        for (let turn = 0; turn < contenders.length; turn++) {
          const index = (round + turn) % contenders.length
          // Each block starts from a clean heap, so no contender pays for another's garbage.
          gc()
          await block(contenders[index]!, options.callsPerRound, options.inFlight, target, tallies[index])
        }
      }
      return contenders.map((contender, index) => {
        const tally = tallies[index]!
        const latencies = sorted(tally.latencies)
        return {
          name: contender.name,
          calls: latencies.length,
          p50: quantile(latencies, 0.5),
          p99: quantile(latencies, 0.99),
          perSecond: latencies.length / (tally.wallMillis / 1000),
          cpuMicrosPerCall: tally.cpuMicros / latencies.length
        }
      })
    } finally {
      for (const contender of contenders) await contender.close()
    }
  } finally {
    await emulator.stop()
  }
}

/** The table, ratios taken against raw undici, and a line on each target. */
export const comparisonTable = (results: ReadonlyArray<ContenderResult>): string => {
  const baseline = results.find((result) => result.name === baselineName)!
  const rows = results.map((result) =>
    [
      result.name,
      micros(result.p50),
      micros(result.p99),
      perSecond(result.perSecond),
      Math.round(result.cpuMicrosPerCall).toLocaleString("en-US"),
      times(result.p50 / baseline.p50),
      times(result.p99 / baseline.p99),
      times(result.perSecond / baseline.perSecond)
    ].join(" | ")
  )
  return [
    "| client | p50 µs | p99 µs | calls/s | client CPU µs/call | p50 ÷ undici | p99 ÷ undici | calls/s ÷ undici |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((row) => `| ${row} |`)
  ].join("\n")
}

/**
 * Whether each of our layers met the per-call targets: one call at a time, a p50 and a client CPU per
 * call at or below the official SDK's; at 64 in flight, at least its calls per second. (The ratio to raw
 * undici is in the table; its old 1.3× target was withdrawn.)
 */
export const targetLines = (results: ReadonlyArray<ContenderResult>, concurrent: boolean): string => {
  const sdk = results.find((result) => result.name.startsWith("official"))!
  const met = (ok: boolean) => ok ? "met" : "**missed**"
  return results.filter((result) => result.name.startsWith("ours")).map((result) => {
    const p50 = result.p50 / sdk.p50
    const cpu = result.cpuMicrosPerCall / sdk.cpuMicrosPerCall
    const rate = result.perSecond / sdk.perSecond
    return concurrent
      ? `- ${result.name}: ${times(rate)} the SDK's calls/s (target ≥ 1.00×: ${met(rate >= 1)}); ` +
        `p50 ${times(p50)} and CPU per call ${times(cpu)} the SDK's`
      : `- ${result.name}: p50 ${times(p50)} the SDK's (target ≤ 1.00×: ${met(p50 <= 1)}), CPU per call ${
        times(cpu)
      } (target ≤ 1.00×: ${met(cpu <= 1)}); ${times(rate)} its calls/s`
  }).join("\n")
}
