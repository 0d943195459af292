/**
 * Where the commands' services come from: Stytch (or any base URL) with the credentials the http layer
 * reads from `STYTCH_PROJECT_ID`, `STYTCH_SECRET` and `STYTCH_BASE_URL`; or, with `--emulator`, a
 * throwaway emulator started inside this process on loopback, seeded with a few demo clients so that
 * every command has something to act on with no account. Either way the commands talk HTTP through the
 * same http layers, so the emulator shows exactly what Stytch would.
 *
 * Each group of commands reads only what it needs: `token` and `verify` need no project secret.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Terminal from "@effect/platform/Terminal"
import { HttpM2MClients, HttpM2MTokens, HttpM2MTokenVerifier } from "@stytch-effect/http"
import { Duration, Effect, Layer } from "effect"

/** `M2MClients` from the environment's credentials. */
export const clientsFromConfig = HttpM2MClients.layerConfig().pipe(Layer.provide(NodeHttpClient.layerUndici))

/** `M2MTokens` from the environment's project (no project secret: the client's own comes with each request). */
export const tokensFromConfig = HttpM2MTokens.layerConfig().pipe(Layer.provide(NodeHttpClient.layerUndici))

/** `M2MTokenVerifier` from the environment's project; one command a process, so no background refresh. */
export const verifierFromConfig = HttpM2MTokenVerifier.layerConfig({ refreshInterval: Duration.infinity }).pipe(
  Layer.provide(NodeHttpClient.layerUndici)
)

/**
 * Every service over HTTP to an emulator that lives as long as the command. Loaded only for
 * `--emulator`: the emulator's server code is most of the command line's start-up time.
 */
export const fromEmulator = Layer.unwrapEffect(
  Effect.map(Effect.promise(() => import("./emulator.js")), (module) => module.layer)
)

/**
 * Node's terminal, drawing prompts on standard error: standard output carries only data (a table,
 * JSON lines, the one secret a command exists to show), so `> file` or `| jq` never captures a prompt.
 */
export const promptTerminal = Layer.scoped(
  Terminal.Terminal,
  Effect.map(NodeTerminal.make(), (terminal) =>
    Terminal.Terminal.of({
      ...terminal,
      columns: Effect.sync(() => process.stderr.columns ?? 80),
      rows: Effect.sync(() => process.stderr.rows ?? 24),
      isTTY: Effect.sync(() => process.stderr.isTTY === true),
      display: (text) => Effect.sync(() => void process.stderr.write(text))
    }))
)

/** Whether there is a person at the keyboard to answer a prompt. */
export const interactive = Effect.sync(() => process.stdin.isTTY === true && process.stderr.isTTY === true)
