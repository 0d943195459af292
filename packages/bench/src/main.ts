/**
 * Runs the benchmarks, each printing a markdown table and writing it to results/. `BENCH=<name>` runs
 * only that one.
 */
const benchmarks: Record<string, () => Promise<{ readonly run: () => Promise<string> }>> = {
  get: () => import("./get.js"),
  concurrency: () => import("./concurrency.js"),
  walk: () => import("./walk.js"),
  search: () => import("./search.js"),
  searchCost: () => import("./search-cost.js"),
  memory: () => import("./memory.js"),
  "token-cache": () => import("./token-cache.js"),
  tokens: () => import("./tokens.js"),
  storm: () => import("./storm.js"),
  verify: () => import("./verify.js")
}

const only = process.env["BENCH"]
if (only !== undefined && !(only in benchmarks)) {
  throw new Error(`BENCH=${only} names no benchmark; there are ${Object.keys(benchmarks).join(", ")}`)
}
const started = performance.now()
for (const [name, load] of Object.entries(benchmarks)) {
  if (only === undefined || only === name) await (await load()).run()
}
console.log(`All done in ${((performance.now() - started) / 1000).toFixed(1)} s.`)
