/**
 * `get` with 64 calls in flight, against one emulator on loopback, for the same five clients as
 * `get.ts` (see internal/comparison.ts for the method). `BENCH=concurrency` runs only this one.
 */
import { compare, comparisonTable, targetLines } from "./internal/comparison.js"
import { publish } from "./internal/report.js"

const inFlight = 64
const rounds = 4
const callsPerRound = 1500

export const run = async (): Promise<string> => {
  const results = await compare({ inFlight, warmupCalls: 640, rounds, callsPerRound })
  return publish(
    "concurrency",
    [
      `### concurrency: ${inFlight} gets in flight against the emulator on loopback`,
      "",
      comparisonTable(results),
      "",
      targetLines(results, true),
      "",
      `Method: as in get.md, but ${inFlight} calls are kept in flight (${inFlight} loops each awaiting one call ` +
      `at a time); after 640 warm-up calls each, ${rounds} rounds of ${callsPerRound} calls per client, the ` +
      `order rotated every round (${rounds * callsPerRound} timed calls per client). Latency is each call's ` +
      "own, queueing included. The emulator is one process on one core, so where calls/s are alike the " +
      "server is the limit and the client CPU per call is what tells the clients apart."
    ].join("\n")
  )
}
