/**
 * The per-call cost of `get`, one call at a time, against one emulator on loopback: our http layer over
 * `FetchHttpClient`, `NodeHttpClient.layerUndici` and our `UndiciHttpClient`, raw `undici.request`, raw
 * `fetch`, and the official `stytch` SDK, all with keep-alive, side by side in one run (see internal/comparison.ts for
 * the method). A second table climbs from raw undici to our layer one step at a time, to show where
 * our layer's time per call goes (internal/ladder.ts). `BENCH=get` runs only this one.
 */
import type { ContenderResult } from "./internal/comparison.js"
import { compare, comparisonTable, targetLines } from "./internal/comparison.js"
import { makeLadder } from "./internal/ladder.js"
import { micros, publish, times } from "./internal/report.js"

const rounds = 8
const callsPerRound = 200
const ladderRounds = 8

const ladderTable = (rungs: ReadonlyArray<ContenderResult>) => {
  const [first] = rungs
  const rows = rungs.map((rung) =>
    `| ${rung.name} | ${micros(rung.p50)} | ${times(rung.p50 / first!.p50)} | ${Math.round(rung.cpuMicrosPerCall)} | ${
      Math.round(rung.cpuMicrosPerCall - first!.cpuMicrosPerCall)
    } |`
  )
  return [
    "| rung | p50 µs | p50 ÷ rung 1 | client CPU µs/call | CPU over rung 1 |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows
  ].join("\n")
}

export const run = async (): Promise<string> => {
  const results = await compare({ inFlight: 1, warmupCalls: 300, rounds, callsPerRound })
  const rungs = await compare({ inFlight: 1, warmupCalls: 200, rounds: ladderRounds, callsPerRound }, makeLadder)
  return publish(
    "get",
    [
      "### get: one call at a time against the emulator on loopback",
      "",
      comparisonTable(results),
      "",
      targetLines(results, false),
      "",
      `Method: the emulator (\`packages/emulator/dist/bin.js\`) runs in a child process with one client in its ` +
      `store; this process makes the calls, one in flight, keep-alive on. After 300 warm-up calls each, ` +
      `${rounds} rounds of ${callsPerRound} calls per client, the order rotated every round and a forced GC ` +
      `before each block (${rounds * callsPerRound} timed calls per client). Each call reads the whole answer ` +
      "as JSON; ours also decodes it with the response schema and runs inside `ManagedRuntime.runPromise` " +
      "with the layer's defaults (retries and a 30 s timeout on). The SDK gets `https://emulator.invalid` as " +
      "its base URL and an undici dispatcher that sends each request to the emulator's origin, so its path, " +
      "headers and body are its own (only `Host` names the emulator). Client CPU is this process's user + " +
      "system time over the calls, all its threads (GC helpers included), so it can exceed the wall time per call.",
      "",
      "#### Where our layer's time goes: from raw undici to our layer, one step at a time",
      "",
      ladderTable(rungs),
      "",
      `Same method, ${ladderRounds} rounds of ${callsPerRound} calls per rung. Rungs 2 to 6 run inside ` +
      "`ManagedRuntime.runPromise` as our layer does. Rung 2 is the floor for any Effect client that can be " +
      "interrupted, and rung 3 the floor for any client built on `@effect/platform`'s `HttpClient`, as the issue " +
      "asks ours to be. Rungs 5 and 6 compare two per-attempt timeouts on top of rung 4. What rung 7 adds over " +
      "rung 6 is the rest of our own code: request validation and encoding, the operation's span, the request " +
      "decoration (base URL, Basic auth, headers), the attempt bookkeeping and the retry wrapper. Rungs 3u, 6u " +
      "and 8 are rungs 3, 6 and 7 over our own `UndiciHttpClient` in place of the platform's undici client; rung 7u " +
      "is rung 6u inside an operation span, which our layer makes only under an app's own tracer (none here), " +
      "so what rung 8 adds over rung 6u is our own code alone (validation and encoding, the request decoration, " +
      "the attempt bookkeeping) and rung 7u is what a span would cost."
    ].join("\n")
  )
}
