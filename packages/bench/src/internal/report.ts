/** What the benchmarks share: percentiles, number formats, and writing a table to results/. */
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"

/** The value at quantile `q` of sorted `values` (nearest rank). */
export const quantile = (sorted: ArrayLike<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

export const sorted = (values: ReadonlyArray<number>): Array<number> => [...values].sort((a, b) => a - b)

export const micros = (millis: number) => `${Math.round(millis * 1000).toLocaleString("en-US")}`
export const perSecond = (rate: number) => Math.round(rate).toLocaleString("en-US")
export const times = (ratio: number) => `${ratio.toFixed(2)}×`
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`

export const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (!collect) throw new Error("run with node --expose-gc (as `pnpm bench` does)")
  collect()
}

/**
 * Prints the table and writes it to results/<name>.md, dated, with the machine and how busy it was:
 * figures taken on a loaded machine are not comparable with figures from an idle one.
 */
export const publish = (name: string, table: string): string => {
  const [load] = loadavg()
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "unknown CPU"}, 1-minute load average ${
    load!.toFixed(2)
  } at the end`
  const text = `${table}\n\nMeasured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${machine}.\n`
  console.log(text)
  mkdirSync(new URL("../../results/", import.meta.url), { recursive: true })
  writeFileSync(new URL(`../../results/${name}.md`, import.meta.url), text)
  return text
}
