/**
 * Runs the benchmarks, each printing a markdown table and writing it to results/. `BENCH=<name>` runs
 * only that one.
 */
const benchmarks: Record<string, () => Promise<{ readonly run: () => Promise<string> }>> = {
  search: () => import("./search.js"),
  memory: () => import("./memory.js")
}

const only = process.env["BENCH"]
for (const [name, load] of Object.entries(benchmarks)) {
  if (only === undefined || only === name) await (await load()).run()
}
