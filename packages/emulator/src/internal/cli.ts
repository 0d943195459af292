/**
 * The standalone emulator's settings: each from a command-line flag, else an environment variable,
 * else a default. Flags are read into a `ConfigProvider` laid over the environment's, so one `Config`
 * describes every setting and the flag wins wherever both are given.
 *
 * | flag | environment | default |
 * | --- | --- | --- |
 * | `--port` | `STYTCH_EMULATOR_PORT` | 4455 |
 * | `--host` | `STYTCH_EMULATOR_HOST` | 127.0.0.1 |
 * | `--project-id` | `STYTCH_EMULATOR_PROJECT_ID` | generated |
 * | `--faults` | `STYTCH_EMULATOR_FAULTS` | none (a JSON fault plan, latency in milliseconds) |
 * | (none) | `STYTCH_EMULATOR_SECRET` | generated |
 *
 * The secret has no flag: a flag would leave it in the shell's history and in `ps` output. A wrong
 * setting is reported under the name it was given by (`--port`, or `STYTCH_EMULATOR_PORT`), and the
 * process exits with one of `exitCodes`.
 */
import type { ServeError } from "@effect/platform/HttpServerError"
import type { Option, Redacted } from "effect"
import { Config, ConfigError, ConfigProvider, Data, Effect, Either, ParseResult, Predicate, Schema } from "effect"
import { FaultPlanFromJson } from "../Faults.js"
import type { FaultPlan } from "../Faults.js"

export const defaultPort = 4455

const flags: Readonly<Record<string, string>> = {
  port: "STYTCH_EMULATOR_PORT",
  host: "STYTCH_EMULATOR_HOST",
  "project-id": "STYTCH_EMULATOR_PROJECT_ID",
  faults: "STYTCH_EMULATOR_FAULTS"
}

export const usage = `Usage: stytch-m2m-emulator [--port N] [--host HOST] [--project-id ID] [--faults JSON]

Serves Stytch's M2M client endpoints from an in-memory store until Ctrl-C.

  --port N         ${flags.port}, default ${defaultPort} (0 picks a free port)
  --host HOST      ${flags.host}, default 127.0.0.1
  --project-id ID  ${flags["project-id"]}, default generated
  --faults JSON    ${flags.faults}, a fault plan, default none
  (no flag)        STYTCH_EMULATOR_SECRET, default generated

A flag wins over its environment variable. Generated credentials are printed at start-up.
Exit codes: 0 stopped by Ctrl-C, 2 bad flags or settings, 3 could not listen (port taken), 1 other.`

/** The process's exit codes, listed in `usage` and the emulator's README. */
export const exitCodes = { usage: 2, cannotListen: 3 } as const

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** The server could not listen where asked; the message is the one line `describeServeError` gives. */
export class CannotListen extends Data.TaggedError("CannotListen")<{ readonly message: string }> {}

/** Whether the arguments ask for the usage text. */
export const wantsHelp = (argv: ReadonlyArray<string>): boolean => argv.includes("--help") || argv.includes("-h")

/** `--name value` and `--name=value` pairs, keyed by the environment variable each stands for. */
export const parseFlags = (argv: ReadonlyArray<string>): Either.Either<Map<string, string>, UsageError> => {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(argument)
    const key = match ? flags[match[1]!] : undefined
    if (!match || key === undefined) return Either.left(new UsageError({ message: `Unknown argument: ${argument}` }))
    const value = match[2] ?? argv[++i]
    if (value === undefined) return Either.left(new UsageError({ message: `--${match[1]} needs a value` }))
    values.set(key, value)
  }
  return Either.right(values)
}

export interface StandaloneOptions {
  readonly port: number
  readonly host: string
  readonly projectId: Option.Option<string>
  readonly secret: Option.Option<Redacted.Redacted<string>>
  readonly faults: FaultPlan
}

const faultsConfig = Config.string("STYTCH_EMULATOR_FAULTS").pipe(
  Config.mapOrFail((json) =>
    Schema.decodeUnknownEither(FaultPlanFromJson)(json).pipe(
      Either.mapLeft((error) =>
        ConfigError.InvalidData(
          [],
          // The first issue at its path (`all.fail.share: must be ...`), not the whole plan's type; the
          // issues after it are the optional fields' other alternatives (`Expected undefined`).
          `not a fault plan: ${
            ParseResult.ArrayFormatter.formatErrorSync(error).slice(0, 1)
              .map((issue) => issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message)
              .join("")
          }`
        )
      )
    )
  ),
  Config.withDefault<FaultPlan>({})
)

export const standaloneConfig: Config.Config<StandaloneOptions> = Config.all({
  // Not `Config.port`, which refuses 0: here 0 asks for any free port, as in tests.
  port: Config.integer("STYTCH_EMULATOR_PORT").pipe(
    Config.validate({ message: "Expected a port from 0 to 65535", validation: (port) => port >= 0 && port <= 65535 }),
    Config.withDefault(defaultPort)
  ),
  host: Config.string("STYTCH_EMULATOR_HOST").pipe(Config.withDefault("127.0.0.1")),
  projectId: Config.option(Config.nonEmptyString("STYTCH_EMULATOR_PROJECT_ID")),
  secret: Config.option(Config.redacted(Config.nonEmptyString("STYTCH_EMULATOR_SECRET"))),
  faults: faultsConfig
})

/**
 * One line per setting that is wrong, each named as the user gave it: the flag when it came from a
 * flag, else the environment variable. A flag's bad value also shows up as an alternative to the
 * environment's missing one (the flags' provider falls back to the environment); only the bad value
 * is worth reporting.
 */
const describeConfigError = (error: ConfigError.ConfigError, fromFlags: ReadonlyMap<string, string>): string => {
  const flagOf = new Map(Object.entries(flags).map(([flag, variable]) => [variable, `--${flag}`]))
  type Problem = { readonly line: string; readonly missing: boolean }
  const problem = (missing: boolean) => (_: unknown, path: Array<string>, message: string): Array<Problem> => {
    const variable = path.join(".")
    const name = fromFlags.has(variable) ? flagOf.get(variable)! : variable
    return [{ line: `${name}: ${message}`, missing }]
  }
  const problems = ConfigError.reduceWithContext<unknown, Array<Problem>>(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => {
      const both = [...left, ...right]
      return both.some((p) => !p.missing) ? both.filter((p) => !p.missing) : both
    },
    invalidDataCase: problem(false),
    missingDataCase: problem(true),
    sourceUnavailableCase: problem(false),
    unsupportedCase: problem(false)
  })
  return [...new Set(problems.map((p) => p.line))].join("\n")
}

/** The settings from these arguments over the current `ConfigProvider` (the environment, by default). */
export const readStandaloneOptions = (
  argv: ReadonlyArray<string>
): Effect.Effect<StandaloneOptions, UsageError> =>
  Effect.gen(function*() {
    const fromFlags = yield* parseFlags(argv)
    const fallback = yield* Effect.configProviderWith(Effect.succeed)
    return yield* Effect.withConfigProvider(
      standaloneConfig,
      ConfigProvider.fromMap(fromFlags).pipe(ConfigProvider.orElse(() => fallback))
    ).pipe(
      Effect.mapError((error) => new UsageError({ message: describeConfigError(error, fromFlags) }))
    )
  })

/**
 * The one line to print when the server cannot listen. A taken port is the usual case (another
 * emulator still running), so it says so and how to pick another; any other cause keeps Node's code.
 */
export const describeServeError = (error: ServeError, host: string, port: number): string => {
  const code = Predicate.hasProperty(error.cause, "code") ? String(error.cause.code) : undefined
  return code === "EADDRINUSE"
    ? `Port ${port} on ${host} is already in use: stop what holds it, or choose another with --port (0 picks a free one).`
    : `Cannot listen on ${host}:${port}${code ? ` (${code})` : ""}: ${
      Predicate.hasProperty(error.cause, "message") ? String(error.cause.message) : String(error.cause)
    }`
}
