#!/usr/bin/env node
/**
 * The standalone emulator: `pnpm emulator` (or `stytch-m2m-emulator`) serves Stytch's M2M client
 * endpoints from a fresh in-memory store until Ctrl-C. It prints its base URL and credentials once at
 * start-up, since a local project's own generated credentials are what a developer needs to point an
 * app at it; a secret given through the environment is never printed.
 */
import { NodeRuntime } from "@effect/platform-node"
import { MemoryM2MClients } from "@stytch-effect/memory"
import { Console, Effect, Option, Redacted } from "effect"
import { generateProjectId, generateSecret, make } from "./Emulator.js"
import { CannotListen, describeServeError, exitCodes, readStandaloneOptions, usage, wantsHelp } from "./internal/cli.js"

const argv = process.argv.slice(2)

const exitWith = (code: number, message: string) =>
  Effect.zipRight(Console.error(message), Effect.sync(() => process.exitCode = code))

const main = Effect.gen(function*() {
  if (wantsHelp(argv)) return yield* Console.log(usage)
  const options = yield* readStandaloneOptions(argv)
  const projectId = Option.getOrElse(options.projectId, generateProjectId)
  const secret = Option.getOrElse(options.secret, generateSecret)
  const emulator = yield* make({
    host: options.host,
    port: options.port,
    projectId,
    secret,
    faults: options.faults
  }).pipe(
    Effect.provide(MemoryM2MClients.layer({ projectId })),
    Effect.mapError((error) => new CannotListen({ message: describeServeError(error, options.host, options.port) }))
  )
  yield* Console.log(
    [
      "Stytch M2M emulator",
      `  base URL:   ${emulator.baseUrl}`,
      `  project id: ${emulator.projectId}`,
      `  secret:     ${Option.isSome(options.secret) ? "(from STYTCH_EMULATOR_SECRET)" : Redacted.value(secret)}`,
      "Press Ctrl-C to stop."
    ].join("\n")
  )
  return yield* Effect.never
}).pipe(
  // A usage error or a port that is taken is the user's to fix: one message, no stack, its own exit code.
  Effect.catchTags({
    UsageError: (error) => exitWith(exitCodes.usage, `${error.message}\n\n${usage}`),
    CannotListen: (error) => exitWith(exitCodes.cannotListen, error.message)
  })
)

NodeRuntime.runMain(Effect.scoped(main))
