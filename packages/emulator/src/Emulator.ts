/**
 * A local Stytch M2M server on loopback: Stytch's eight M2M client endpoints over real HTTP, with
 * Stytch's paths, bodies, status codes, error bodies and Basic authentication, plus the token endpoint
 * (real RS256 JWTs) and the project's key set, backed by whatever `M2MClients`, `M2MTokens` and
 * `SigningKeys` it is given (normally `@stytch-effect/memory`'s store). Point the http layer, an example
 * or your own app at `baseUrl` and it runs end to end with no Stytch account.
 *
 * `layer` starts it (port 0 by default, so tests never collide) and needs an `M2MClients`, so a test can
 * compose it with a store it also inspects directly; `layerMemory` brings a fresh in-memory store.
 */
import { HttpMiddleware } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { ServeError } from "@effect/platform/HttpServerError"
import type { M2MClients, M2MTokens } from "@stytch-effect/core"
import { ClientCredentials, MemoryM2MClients, SigningKeys } from "@stytch-effect/memory"
import type { Random, Scope } from "effect"
import { Context, Effect, Layer, Redacted } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { createServer } from "node:http"
import type { Duplex } from "node:stream"
import type { FaultPlan } from "./Faults.js"
import type { Faults } from "./Faults.js"
import { makeFaults } from "./Faults.js"
import { unparsableRequestAnswer } from "./internal/answers.js"
import { makeApp, makeConnectAnswer, requestIdPrefixOf } from "./internal/app.js"

export interface EmulatorOptions {
  /** Where to listen; loopback by default, since the emulator is for one machine. */
  readonly host?: string | undefined
  /** 0 (the default) picks a free port; `baseUrl` tells which. */
  readonly port?: number | undefined
  /** The project id clients authenticate as; generated (`project-test-<uuid>`) when left out. */
  readonly projectId?: string | undefined
  /** The project secret clients authenticate with; generated from a cryptographic source when left out. */
  readonly secret?: Redacted.Redacted<string> | undefined
  /** The largest request body accepted, in bytes: 1 MiB by default. Larger ones get a 413. */
  readonly maxBodySize?: number | undefined
  /** The faults to start with; none by default. Change them later through `Emulator.faults`. */
  readonly faults?: FaultPlan | undefined
  /** Where fault decisions draw from (`Random.fixed([...])` in tests); the ambient `Random` by default. */
  readonly random?: Random.Random | undefined
}

export declare namespace Emulator {
  export interface Service {
    /** `http://host:port`, with the port actually bound. */
    readonly baseUrl: string
    readonly projectId: string
    readonly secret: Redacted.Redacted<string>
    /** The fault plan, changeable while the emulator runs. */
    readonly faults: Faults.Service
    /** The keys its tokens are signed with: `keys.rotate` starts signing with a new key, both served. */
    readonly keys: SigningKeys.Service
  }
}

const defaultMaxBodySize = 1024 * 1024

/** A project secret in the shape Stytch's look like, from a cryptographic source. */
export const generateSecret = (): Redacted.Redacted<string> =>
  Redacted.make(`secret-test-${randomBytes(24).toString("base64url")}`)

export const generateProjectId = (): string => `project-test-${randomUUID()}`

const urlHost = (host: string) => host.includes(":") ? `[${host}]` : host

/**
 * Starts the emulator for the life of the scope: listening when the effect succeeds, closed (open
 * connections included) when the scope closes.
 */
export const make = (
  options: EmulatorOptions = {}
): Effect.Effect<Emulator.Service, ServeError, M2MClients | M2MTokens | SigningKeys | Scope.Scope> =>
  Effect.gen(function*() {
    const projectId = options.projectId ?? generateProjectId()
    const secret = options.secret ?? generateSecret()
    const faults = yield* makeFaults(options.faults)
    const app = yield* makeApp({
      credentials: { projectId, secret },
      faults,
      maxBodySize: options.maxBodySize ?? defaultMaxBodySize,
      random: options.random
    })
    const host = options.host ?? "127.0.0.1"
    const nodeServer = createServer()
    const server = yield* NodeHttpServer.make(() => nodeServer, { host, port: options.port ?? 0 })
    // Closing waits for open connections; a keep-alive client or a request held by injected latency
    // would keep the scope from closing, so cut them first (finalizers run last-added first).
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    // Node answers requests its parser refuses (a head over 16 KiB, a raw space in the path) with a
    // bare status line; answer them as Stytch would instead, with a JSON body and a request id.
    nodeServer.on("clientError", (error: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy()
      socket.end(unparsableRequestAnswer(error.code, `${requestIdPrefixOf(projectId)}${randomUUID()}`))
    })
    // Node hands a CONNECT to this event, not to the app, and without a listener drops the connection
    // unanswered; answer it as the app answers any method no route has.
    const connectAnswer = makeConnectAnswer({ projectId, secret })
    nodeServer.on("connect", (request: IncomingMessage, socket: Duplex) => {
      socket.on("error", () => socket.destroy())
      socket.end(connectAnswer(request))
    })
    // The emulator stands in for Stytch in tests, so the caller's spans are the ones worth having. The
    // platform's server span (URL parsing, header redaction, a dozen attributes) is about a third of the
    // platform's own time per request, and together with the store's spans nothing reads them.
    yield* server.serve(app).pipe(
      HttpMiddleware.withTracerDisabledWhenEffect(() => true),
      Effect.withTracerEnabled(false)
    )
    const address = server.address
    const baseUrl = address._tag === "TcpAddress"
      ? `http://${urlHost(host)}:${address.port}`
      : `http://unix:${address.path}`
    return Emulator.of({ baseUrl, projectId, secret, faults, keys: yield* SigningKeys })
  })

/**
 * The emulator as a layer, serving the `M2MClients`, `M2MTokens` and `SigningKeys` it is given (one
 * memory store's, normally; the tokens' `iss` and `aud` are the store's project, so give both one id).
 */
export const layer = (
  options: EmulatorOptions = {}
): Layer.Layer<Emulator, ServeError, M2MClients | M2MTokens | SigningKeys> => Layer.scoped(Emulator, make(options))

/**
 * The emulator with a fresh in-memory store of its own. The store is in the output too, so a test can
 * look behind the HTTP surface (`M2MClients` for the clients, `ClientCredentials` for their secrets,
 * `M2MTokens` and `SigningKeys` for tokens).
 */
export const layerMemory = (
  options: EmulatorOptions & { readonly memory?: MemoryM2MClients.MemoryOptions | undefined } = {}
): Layer.Layer<Emulator | M2MClients | ClientCredentials | M2MTokens | SigningKeys, ServeError> =>
  Layer.unwrapEffect(Effect.sync(() => {
    // One project id for both, so the store mints `-live-` ids exactly when the emulator is a live project.
    const projectId = options.projectId ?? generateProjectId()
    return layer({ ...options, projectId }).pipe(
      Layer.provideMerge(MemoryM2MClients.layer({ ...options.memory, projectId }))
    )
  }))

/**
 * A running emulator: where it listens and the credentials it accepts. Start one with
 * `Emulator.layer` (over an `M2MClients` you give it) or `Emulator.layerMemory` (with a store of its own).
 */
export class Emulator extends Context.Tag("@stytch-effect/emulator/Emulator")<Emulator, Emulator.Service>() {
  static readonly make = make
  static readonly layer = layer
  static readonly layerMemory = layerMemory
}
