/**
 * `stytch-m2m clients ...`: list, get, create, update, activate, deactivate and delete M2M clients.
 */
import { Args, Command, Options } from "@effect/cli"
import type { M2MClient } from "@stytch-effect/core"
import { JsonObject, M2MClients } from "@stytch-effect/core"
import { Chunk, Config, Console, Effect, Option, Schema, Stream } from "effect"
import { runBulk } from "./bulk.js"
import { UsageError } from "./errors.js"
import { clientDetails, clientsTable, clientView, note, printJson, revealed, showClient } from "./output.js"
import { describeFilters, filterOptions, hasFilter, selected } from "./selection.js"
import { clientId, confirmOrFail, json, variableInMessage, yes } from "./shared.js"

const list = Command.make("list", { ...filterOptions, json }, (args) =>
  args.json
    ? selected(args).pipe(Stream.runForEach((client) => printJson(clientView(client))))
    : Effect.gen(function*() {
      const clients = Chunk.toReadonlyArray(yield* Stream.runCollect(selected(args)))
      if (clients.length > 0) yield* Console.log(clientsTable(clients.map(clientView)))
      yield* note(`${clients.length} ${clients.length === 1 ? "client" : "clients"}`)
    })).pipe(
    Command.withDescription("List the clients the filters select (all of them without filters)")
  )

const get = Command.make("get", { clientId, json }, (args) =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    yield* showClient(yield* clients.get({ client_id: args.clientId }), args.json)
  })).pipe(Command.withDescription("Show one client"))

const metadata = Options.text("metadata").pipe(
  Options.withSchema(Schema.parseJson(JsonObject)),
  Options.optional,
  Options.withDescription("trusted_metadata, as a JSON object")
)

const scopes = Options.text("scope").pipe(
  Options.repeated,
  Options.withDescription("A scope the client holds; repeat for several")
)

const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.optional, Options.withDescription(description))

const given = <A, K extends string>(key: K, option: Option.Option<A>): { readonly [P in K]?: A } =>
  Option.match(option, { onNone: () => ({}), onSome: (value) => ({ [key]: value } as { [P in K]: A }) })

const create = Command.make("create", {
  id: optionalText("id", "The client's id; generated when left out. Your own id makes the create safe to retry"),
  name: optionalText("name", "The client's name"),
  description: optionalText("description", "The client's description"),
  scopes,
  metadata,
  secretEnv: optionalText(
    "secret-env",
    "Import a secret of your own, read from this environment variable (never an argument: those stay in shell history)"
  ),
  json
}, (args) =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    const client_secret = yield* Option.match(args.secretEnv, {
      onNone: () => Effect.succeed(Option.none()),
      onSome: (variable) =>
        Config.redacted(Config.nonEmptyString(variable)).pipe(
          Effect.map(Option.some),
          Effect.mapError((error) => {
            const shown = variableInMessage(variable, "--secret-env")
            return shown === variable ? error : new UsageError({ message: `${shown} is not set` })
          })
        )
    })
    const { m2m_client, request_id } = yield* clients.create({
      scopes: args.scopes,
      ...given("client_id", args.id),
      ...given("client_name", args.name),
      ...given("client_description", args.description),
      ...given("trusted_metadata", args.metadata),
      ...given("client_secret", client_secret)
    })
    // The one place a client's secret is shown, once: it is not kept anywhere and no command shows it again.
    if (args.json) {
      return yield* printJson({
        request_id,
        client: clientView(m2m_client),
        client_secret: revealed(m2m_client.client_secret)
      })
    }
    yield* Console.log(`${clientDetails(clientView(m2m_client))}\nclient secret: ${revealed(m2m_client.client_secret)}`)
    yield* note("Store the client secret now: it is shown only this once.")
  })).pipe(Command.withDescription("Create a client and print its secret, the only time it is shown"))

const update = Command.make("update", {
  clientId,
  name: optionalText("name", "The new name"),
  description: optionalText("description", "The new description"),
  scopes: scopes.pipe(Options.withDescription("The client's scopes, replacing the old ones; repeat for several")),
  clearScopes: Options.boolean("clear-scopes").pipe(Options.withDescription("Remove every scope")),
  metadata,
  json
}, (args) =>
  Effect.gen(function*() {
    if (args.scopes.length > 0 && args.clearScopes) {
      return yield* new UsageError({ message: "--scope and --clear-scopes contradict each other" })
    }
    const changes = {
      ...given("client_name", args.name),
      ...given("client_description", args.description),
      ...given("trusted_metadata", args.metadata),
      ...(args.scopes.length > 0 ? { scopes: args.scopes } : args.clearScopes ? { scopes: [] } : {})
    }
    if (Object.keys(changes).length === 0) {
      return yield* new UsageError({
        message: "nothing to update: give --name, --description, --scope, --clear-scopes or --metadata"
      })
    }
    const clients = yield* M2MClients
    yield* showClient(yield* clients.update({ client_id: args.clientId, ...changes }), args.json)
  })).pipe(
    Command.withDescription("Change a client's name, description, scopes or metadata; only what is given changes")
  )

interface BulkCommand {
  readonly name: string
  readonly description: string
  readonly done: string
  readonly doing: string
  /** How the confirmation asks: `Delete`. */
  readonly verb: string
  /** Clients a filter selects that need no change (deactivating one already inactive) are left out. */
  readonly needs: (client: M2MClient) => boolean
  readonly run: (clients: M2MClients.Service, clientId: string) => Effect.Effect<unknown, { readonly _tag: string }>
}

/**
 * A command over the clients named by id, or over every client the filters select. A selection by
 * filter is shown as a count and confirmed first (`--yes` skips that); ids named one by one are not.
 */
const bulkCommand = (spec: BulkCommand) =>
  Command.make(spec.name, {
    clientIds: Args.text({ name: "client-id" }).pipe(
      Args.repeated,
      Args.withDescription("The clients' ids; or select them with the filters")
    ),
    ...filterOptions,
    all: Options.boolean("all").pipe(Options.withDescription("Every client (no filter)")),
    yes,
    concurrency: Options.integer("concurrency").pipe(
      Options.withDefault(4),
      Options.withDescription("How many operations run at once")
    ),
    json
  }, (args) =>
    Effect.gen(function*() {
      const filtered = hasFilter(args) || args.all
      if (args.clientIds.length > 0 && filtered) {
        return yield* new UsageError({ message: "give client ids or filters, not both" })
      }
      if (args.clientIds.length === 0 && !filtered) {
        return yield* new UsageError({
          message: `name the clients to ${spec.name}: their ids, or filters (--scope, --name, --id, --status), or --all`
        })
      }
      if (args.concurrency < 1) return yield* new UsageError({ message: "--concurrency must be at least 1" })
      const clients = yield* M2MClients
      const operation = { done: spec.done, doing: spec.doing, run: (id: string) => spec.run(clients, id) }
      const options = { json: args.json, concurrency: args.concurrency }
      if (args.clientIds.length === 1) {
        // One client named by id fails with its own error, and so its own exit code.
        const [id] = args.clientIds as [string]
        yield* operation.run(id)
        return yield* args.json ? printJson({ client_id: id, outcome: spec.done }) : Console.log(`${spec.done} ${id}`)
      }
      if (!filtered) return yield* runBulk(operation, args.clientIds, options)

      const selection = Chunk.toReadonlyArray(
        yield* selected(args).pipe(
          Stream.filter(spec.needs),
          Stream.map((client) => client.client_id),
          Stream.runCollect
        )
      )
      const what = describeFilters(args)
      if (selection.length === 0) return yield* note(`No ${what.replace(/^every /, "")} to ${spec.name}.`)
      yield* confirmOrFail(
        `${spec.verb} ${selection.length} ${selection.length === 1 ? "client" : "clients"} (${what})?`,
        args.yes
      )
      yield* runBulk(operation, selection, options)
    })).pipe(Command.withDescription(spec.description))

const activate = bulkCommand({
  name: "activate",
  description: "Activate clients, by id or by filter",
  done: "activated",
  doing: "activating",
  verb: "Activate",
  needs: (client) => client.status === "inactive",
  run: (clients, client_id) => clients.update({ client_id, status: "active" })
})

const deactivate = bulkCommand({
  name: "deactivate",
  description: "Deactivate clients, by id or by filter: their tokens stop being issued until activated again",
  done: "deactivated",
  doing: "deactivating",
  verb: "Deactivate",
  needs: (client) => client.status === "active",
  run: (clients, client_id) => clients.update({ client_id, status: "inactive" })
})

const remove = bulkCommand({
  name: "delete",
  description: "Delete clients, by id or by filter; this cannot be undone",
  done: "deleted",
  doing: "deleting",
  verb: "Delete",
  needs: () => true,
  run: (clients, client_id) => clients.delete({ client_id })
})

export const clientsCommand = Command.make("clients").pipe(
  Command.withDescription("Manage M2M clients"),
  Command.withSubcommands([list, get, create, update, activate, deactivate, remove])
)
