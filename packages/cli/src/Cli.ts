/**
 * `stytch-m2m`: the command tree, and `main`, which runs it on a command line and answers the exit code.
 *
 * ```
 * stytch-m2m [--emulator]
 *   clients  list | get | create | update | activate | deactivate | delete
 *   secrets  rotate | rotate-start | rotate-finish | rotate-cancel
 *   token    CLIENT_ID
 *   verify
 * ```
 *
 * Each group of commands is given the services it needs where it is attached to the root, from the
 * root's options (`--emulator`), so a command that needs none (`--help`, `--version`) reads no
 * credentials, and `token` and `verify` read no project secret.
 */
import { Command, Options, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { M2MClients, M2MTokens, M2MTokenVerifier } from "@stytch-effect/core"
import type { ConfigError } from "effect"
import { Console, Effect, Layer } from "effect"
import { clientsCommand } from "./internal/clients.js"
import {
  clientsFromConfig,
  fromEmulator,
  promptTerminal,
  tokensFromConfig,
  verifierFromConfig
} from "./internal/environment.js"
import { describeFailure, ExitCode, exitCodeOf, UsageError } from "./internal/errors.js"
import { secretsCommand } from "./internal/secrets.js"
import { emptyRepeatedValue } from "./internal/shared.js"
import { tokenCommand, verifyCommand } from "./internal/tokens.js"
import { version } from "./internal/version.js"

export { ExitCode } from "./internal/errors.js"

const root = Command.make("stytch-m2m", {
  emulator: Options.boolean("emulator").pipe(
    Options.withDescription(
      "Run against a throwaway emulator inside this process, seeded with demo clients: no account, nothing kept"
    )
  )
})

/** A group's services as the root's options say: over Stytch with the environment's credentials, or the emulator. */
const services = <A extends M2MClients | M2MTokens | M2MTokenVerifier>(
  fromConfig: Layer.Layer<A, ConfigError.ConfigError>
) =>
  Layer.unwrapEffect(
    Effect.map(root, ({ emulator }): Layer.Layer<A, unknown> => emulator ? fromEmulator : fromConfig)
  )

export const command = root.pipe(
  Command.withHandler(() =>
    new UsageError({ message: "name a command: clients, secrets, token or verify (stytch-m2m --help lists them)" })
  ),
  Command.withDescription(
    "Operate Stytch M2M clients: list, create, update, delete them, rotate their secrets, get and verify tokens"
  ),
  Command.withSubcommands([
    clientsCommand.pipe(Command.provide(services(clientsFromConfig))),
    secretsCommand.pipe(Command.provide(services(clientsFromConfig))),
    tokenCommand.pipe(Command.provide(services(tokensFromConfig))),
    verifyCommand.pipe(Command.provide(services(verifierFromConfig)))
  ])
)

const cli = Command.run(command, { name: "stytch-m2m", version })

/**
 * Runs a command line (`process.argv`) and answers its exit code. Every failure ends here as one line on
 * standard error (usage errors have had their help printed by `@effect/cli` already).
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<ExitCode> =>
  Effect.suspend(() => {
    const option = emptyRepeatedValue(argv)
    return option === undefined ? cli(argv) : new UsageError({
      message: `${option} was given an empty value (an unset variable?); it would be left out and select more`
    })
  }).pipe(
    Effect.as(ExitCode.ok),
    Effect.catchAll((error) =>
      ValidationError.isValidationError(error)
        ? Effect.succeed(ExitCode.usage)
        : Effect.as(Console.error(`stytch-m2m: ${describeFailure(error)}`), exitCodeOf(error))
    ),
    Effect.provide(promptTerminal),
    Effect.provide(NodeContext.layer)
  )
