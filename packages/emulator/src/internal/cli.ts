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
 * The secret has no flag: a flag would leave it in the shell's history and in `ps` output.
 */
import type { Option, Redacted } from "effect"
import { Config, ConfigError, ConfigProvider, Data, Effect, Either, Schema } from "effect"
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

Serves Stytch's M2M client endpoints from an in-memory store. Each flag may be given instead as an
environment variable: ${Object.values(flags).join(", ")}; the project secret only as
STYTCH_EMULATOR_SECRET. Without a project id or secret, fresh ones are generated and printed.`

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

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
      Either.mapLeft((error) => ConfigError.InvalidData([], `not a fault plan: ${error.message}`))
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

/** The settings from these arguments over the current `ConfigProvider` (the environment, by default). */
export const readStandaloneOptions = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fromFlags = yield* parseFlags(argv)
    const fallback = yield* Effect.configProviderWith(Effect.succeed)
    return yield* Effect.withConfigProvider(
      standaloneConfig,
      ConfigProvider.fromMap(fromFlags).pipe(ConfigProvider.orElse(() => fallback))
    )
  })
