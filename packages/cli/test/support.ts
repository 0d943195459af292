/**
 * Runs the real `stytch-m2m` executable (the compiled `dist/bin.js`) in a child process, against an
 * emulator the test process serves, optionally under a pseudo-terminal (util-linux `script`), and
 * collects what it wrote and its exit code.
 */
import { Emulator } from "@stytch-effect/emulator"
import { Effect, Redacted } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

/** Builds the package (and, where stale, what it depends on), so the tests run the bin as shipped. */
export const build = () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  execFileSync(process.execPath, [tsc, "-b", fileURLToPath(new URL("../tsconfig.src.json", import.meta.url))], {
    stdio: "inherit"
  })
}

export interface Run {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>
  /** Written to standard input, which then ends (otherwise standard input is empty). */
  readonly input?: string
  /** Under a pseudo-terminal: stdin, stdout and stderr are one terminal, so all output is in `stdout`. */
  readonly pty?: boolean
  /** Called on each new output with everything written so far; may type into the terminal or signal. */
  readonly interact?: (output: string, control: { write: (input: string) => void; interrupt: () => void }) => void
}

const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`

/** Runs `stytch-m2m ...args` to its end. */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.async<Run>((resume) => {
    const env = { PATH: process.env.PATH ?? "", NO_COLOR: "1", ...options.env }
    const child = options.pty
      ? spawn("script", ["-qfec", [process.execPath, bin, ...args].map(quote).join(" "), "/dev/null"], {
        env: { ...env, TERM: "xterm", COLUMNS: "120", LINES: "40" }
      })
      : spawn(process.execPath, [bin, ...args], {
        env,
        stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"]
      })
    if (!options.pty && options.input !== undefined) child.stdin!.end(options.input)
    let stdout = ""
    let stderr = ""
    const control = {
      write: (input: string) => void child.stdin?.write(input),
      // Under `script` the signal goes to the terminal's foreground process as Ctrl-C would send it.
      interrupt: () => options.pty ? void child.stdin?.write("\x03") : void child.kill("SIGINT")
    }
    child.stdout!.on("data", (chunk) => {
      stdout += chunk
      options.interact?.(stdout, control)
    })
    child.stderr!.on("data", (chunk) => {
      stderr += chunk
    })
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** The environment that points the command line at the test's emulator. */
export const emulatorEnv = Effect.map(Emulator, (emulator) => ({
  STYTCH_PROJECT_ID: emulator.projectId,
  STYTCH_SECRET: Redacted.value(emulator.secret),
  STYTCH_BASE_URL: emulator.baseUrl
}))

/** The environment `token` and `verify` need: the project and the base URL, no project secret. */
export const projectEnv = Effect.map(emulatorEnv, ({ STYTCH_SECRET: _, ...env }) => env)

/** `stytch-m2m ...args` against the test's emulator. */
export const cli = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.flatMap(emulatorEnv, (env) => run(args, { ...options, env: { ...env, ...options.env } }))

/** Each line of standard output, parsed as JSON. */
export const jsonLines = (output: string): Array<any> =>
  output.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))
