/**
 * Starts the emulator in a child process for a benchmark. The server gets a process (and so an event
 * loop and a heap) of its own: in-process, client and server would take turns on one event loop, so a
 * client's cost would be hidden in the server's pauses and the reverse, and the store would dominate the
 * walking process's heap.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { randomBytes, randomUUID } from "node:crypto"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export interface EmulatorProcess {
  readonly baseUrl: string
  readonly projectId: string
  /** A throwaway test secret, made for this run. */
  readonly secret: string
  readonly stop: () => Promise<void>
}

const binPath = join(dirname(createRequire(import.meta.url).resolve("@stytch-effect/emulator")), "bin.js")
const seededPath = fileURLToPath(new URL("./seededEmulator.js", import.meta.url))

/** Resolves with the first line of stdout that `parse` accepts; rejects if the child exits first. */
const waitForLine = (child: ChildProcess, parse: (line: string) => string | undefined) =>
  new Promise<string>((resolve, reject) => {
    let buffered = ""
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8")
      for (const line of buffered.split("\n")) {
        const found = parse(line)
        if (found !== undefined) {
          child.stdout!.off("data", onData)
          child.off("exit", onExit)
          resolve(found)
          return
        }
      }
    }
    const onExit = (code: number | null) => reject(new Error(`the emulator exited (${code}) before listening`))
    child.stdout!.on("data", onData)
    child.once("exit", onExit)
  })

const stopper = (child: ChildProcess) => () =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

const credentials = () => ({
  projectId: `project-test-${randomUUID()}`,
  secret: `secret-test-${randomBytes(24).toString("base64url")}`
})

/**
 * The standalone emulator (`packages/emulator/dist/bin.js`) on a free port, with a fresh empty store
 * and, if given, a fault plan (as `STYTCH_EMULATOR_FAULTS` JSON).
 */
export const startStandalone = async (faults?: unknown): Promise<EmulatorProcess> => {
  const { projectId, secret } = credentials()
  const child = spawn(process.execPath, [binPath, "--port", "0", "--project-id", projectId], {
    env: {
      ...process.env,
      STYTCH_EMULATOR_SECRET: secret,
      ...(faults === undefined ? {} : { STYTCH_EMULATOR_FAULTS: JSON.stringify(faults) })
    },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const baseUrl = await waitForLine(child, (line) => /base URL:\s+(\S+)/.exec(line)?.[1])
  return { baseUrl, projectId, secret, stop: stopper(child) }
}

/** The emulator over a store seeded with `count` clients, each with `secret` as its client secret. */
export const startSeeded = async (count: number): Promise<EmulatorProcess> => {
  const { projectId, secret } = credentials()
  const child = spawn(process.execPath, [seededPath], {
    env: {
      ...process.env,
      STYTCH_EMULATOR_PROJECT_ID: projectId,
      STYTCH_EMULATOR_SECRET: secret,
      BENCH_SEED: String(count)
    },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const baseUrl = await waitForLine(child, (line) => {
    if (!line.startsWith("{")) return undefined
    return (JSON.parse(line) as { baseUrl?: string }).baseUrl
  })
  return { baseUrl, projectId, secret, stop: stopper(child) }
}
