/**
 * The token half of the tour: the whole M2M story, end to end over real HTTP. An invoices API protected
 * by `M2MAuthentication` (`read:invoices` to list, `write:invoices` to create), a worker that calls it
 * with a cached token, a client without the scope refused with 403, a secret rotation during which both
 * secrets get tokens, and a deactivated client that gets no new token while its unexpired one still
 * works: Stytch does not revoke tokens, which is why sensitive routes set a `MaxTokenAge`.
 *
 * Written against the services alone (`M2MClients`, `M2MTokens`, `M2MTokenVerifier`), so it runs over
 * the emulator or real Stytch; its clients carry the run's scope and are deleted at the end.
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpClient,
  HttpClientRequest,
  HttpServer
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { M2MTokenRequest } from "@stytch-effect/core"
import { CurrentClient, M2MClients, M2MTokenCache, M2MTokens } from "@stytch-effect/core"
import { M2MAuthentication, M2MBearer, RequiredScopes } from "@stytch-effect/http"
import { Console, DateTime, Effect, Layer, Ref, Schema } from "effect"
import { createServer } from "node:http"
import type { TourStep } from "./Tour.js"
import { timed } from "./Tour.js"

class Invoice extends Schema.Class<Invoice>("Invoice")({ id: Schema.String, issued_by: Schema.String }) {}

const InvoicesApi = HttpApi.make("invoices").add(
  HttpApiGroup.make("invoices")
    .add(
      HttpApiEndpoint.get("list", "/invoices").addSuccess(Schema.Array(Invoice))
        .annotate(RequiredScopes, ["read:invoices"])
    )
    .add(
      HttpApiEndpoint.post("create", "/invoices").addSuccess(Invoice)
        .annotate(RequiredScopes, ["write:invoices"])
    )
    .middleware(M2MAuthentication)
)

/** The invoices API's handlers: they read who is calling from the verified token. */
const InvoicesLive = Layer.unwrapEffect(Effect.gen(function*() {
  const invoices = yield* Ref.make<ReadonlyArray<Invoice>>([])
  return HttpApiBuilder.group(InvoicesApi, "invoices", (handlers) =>
    handlers
      .handle("list", () => Ref.get(invoices))
      .handle("create", () =>
        Effect.flatMap(CurrentClient, (client) =>
          Ref.modify(invoices, (all) => {
            const invoice = new Invoice({ id: `inv-${all.length + 1}`, issued_by: client.client_id })
            return [invoice, [...all, invoice]]
          }))))
}))

/** The API on a free loopback port, for the life of the scope; needs an `M2MTokenVerifier`. */
const InvoicesServer = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(InvoicesApi).pipe(Layer.provide(InvoicesLive))),
  Layer.provide(M2MAuthentication.layer(InvoicesApi)),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

export interface StoryOptions {
  readonly runId: string
}

/** One token request's outcome, as the story prints it. */
const outcome = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.match(effect, { onFailure: (error) => error._tag, onSuccess: () => "token" })

export const story = (options: StoryOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const clients = yield* M2MClients
    const tokens = yield* M2MTokens
    const steps = yield* Ref.make<Array<TourStep>>([])
    const runScope = `tour:${options.runId}`

    const server = yield* Layer.build(InvoicesServer)
    const address = (yield* Effect.provide(HttpServer.HttpServer, server)).address
    const baseUrl = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
    yield* Console.log(`  invoices API on ${baseUrl}, protected by M2MAuthentication`)

    const worker = (yield* clients.create({
      client_id: `${options.runId}-invoices-worker`,
      client_name: "invoices worker",
      scopes: [runScope, "read:invoices", "write:invoices"]
    })).m2m_client
    const reader = (yield* clients.create({
      client_id: `${options.runId}-reports-reader`,
      client_name: "reports reader",
      scopes: [runScope, "read:reports"]
    })).m2m_client
    const workerRequest: M2MTokenRequest = {
      client_id: worker.client_id,
      client_secret: worker.client_secret,
      scopes: ["read:invoices", "write:invoices"]
    }

    // Each caller's HttpClient carries its cached token as `Authorization: Bearer`.
    const callerOf = (request: M2MTokenRequest) =>
      HttpClient.HttpClient.pipe(
        Effect.flatMap(M2MBearer.withToken(request)),
        Effect.map(HttpClient.mapRequest(HttpClientRequest.prependUrl(baseUrl)))
      )
    const status = (client: HttpClient.HttpClient.With<unknown>, request: HttpClientRequest.HttpClientRequest) =>
      Effect.map(Effect.orDie(Effect.scoped(client.execute(request))), (response) => response.status)

    // 1. The worker calls the API three times with one cached token.
    const workerClient = yield* callerOf(workerRequest)
    const calls = yield* timed(
      steps,
      "worker calls (cached token)",
      Effect.forEach(
        [HttpClientRequest.post("/invoices"), HttpClientRequest.post("/invoices"), HttpClientRequest.get("/invoices")],
        (request) => status(workerClient, request)
      ).pipe(Effect.map((statuses) => statuses.filter((code) => code === 200).length))
    )
    const cache = yield* M2MTokenCache
    const cached = yield* cache.token(workerRequest)
    yield* Console.log(
      `  worker: ${calls} calls answered 200 with one token for ${cached.scopes.join(" ")}, ` +
        `valid until ${DateTime.formatIso(cached.expires_at)}`
    )

    // 2. A client without read:invoices is refused 403, naming the scope.
    const readerClient = yield* callerOf({ client_id: reader.client_id, client_secret: reader.client_secret })
    yield* timed(
      steps,
      "403 without the scope",
      Effect.scoped(readerClient.get("/invoices")).pipe(
        Effect.orDie,
        Effect.tap((response) =>
          Console.log(`  reports reader: ${response.status}, ${response.headers["www-authenticate"] ?? ""}`)
        ),
        Effect.map((response) => response.status === 403 ? 1 : 0)
      )
    )

    // 3. A rotation: both secrets get tokens until it completes, then only the new one.
    let workerSecret = worker.client_secret
    yield* timed(
      steps,
      "rotation (token per secret)",
      Effect.gen(function*() {
        const started = yield* clients.secrets.rotateStart({ client_id: worker.client_id })
        const next = started.m2m_client.next_client_secret
        const during = [
          yield* outcome(tokens.token({ client_id: worker.client_id, client_secret: worker.client_secret })),
          yield* outcome(tokens.token({ client_id: worker.client_id, client_secret: next }))
        ]
        yield* clients.secrets.rotate({ client_id: worker.client_id })
        workerSecret = next
        const after = [
          yield* outcome(tokens.token({ client_id: worker.client_id, client_secret: worker.client_secret })),
          yield* outcome(tokens.token({ client_id: worker.client_id, client_secret: next }))
        ]
        yield* Console.log(
          `  rotating: old secret ${during[0]}, next ${during[1]}; rotated: old ${after[0]}, new ${after[1]}`
        )
        return [...during, ...after].join() === "token,token,InvalidClientCredentials,token" ? 1 : 0
      })
    )

    // 4. Deactivated: no new token, but the token already issued lives on until it expires.
    yield* timed(
      steps,
      "deactivated client",
      Effect.gen(function*() {
        yield* clients.update({ client_id: worker.client_id, status: "inactive" })
        const fresh = yield* outcome(tokens.token({ ...workerRequest, client_secret: workerSecret }))
        const stillServed = yield* status(workerClient, HttpClientRequest.get("/invoices"))
        yield* Console.log(
          `  deactivated: a new token is refused (${fresh}); the one it holds still gets ${stillServed} ` +
            `(Stytch does not revoke tokens: set MaxTokenAge on sensitive routes)`
        )
        return fresh === "ClientInactive" && stillServed === 200 ? 1 : 0
      })
    )

    yield* Effect.forEach([worker, reader], (client) => clients.delete({ client_id: client.client_id }), {
      discard: true
    })
    return yield* Ref.get(steps)
  }))
