/**
 * The emulator as an `HttpApp`: Stytch's eight M2M client endpoints served from whatever `M2MClients`
 * is provided, routed by core's `Operations` descriptors so the paths, bodies and schemas are the very
 * ones the http layer sends by.
 *
 * A request goes through, in order: a request id, Basic authentication, routing, the route's faults,
 * the body (size, content type, JSON), the operation's request schema, the operation, the route's
 * after-commit faults, and the operation's response schema. Every step that refuses the request
 * answers a Stytch-shaped error; nothing a client sends can crash the server or reach the store
 * unvalidated.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import type { AnyApiError, InvalidRequest, Operation } from "@stytch-effect/core"
import { decodeRequest, M2MClients, Operations, projectEnvironment } from "@stytch-effect/core"
import { Cause, Context, Data, Effect, Random, Schema } from "effect"
import { randomUUID } from "node:crypto"
import type * as Http from "node:http"
import type { Faults } from "../Faults.js"
import type { ErrorAnswer } from "./answers.js"
import {
  badRequest,
  internalServerError,
  invalidPathClientId,
  invalidRequestAnswer,
  methodNotAllowed,
  rawAnswer,
  requestTooLarge,
  respondApiError,
  respondError,
  routeNotFound,
  serverUnavailable,
  unsupportedContentType
} from "./answers.js"
import type { Credentials } from "./auth.js"
import { makeAuthenticator } from "./auth.js"
import { decide, faultsFor } from "./faults.js"
import type { OperationName, Resolution } from "./paths.js"
import { matchPath, operationNames, rawPathOf, resolve } from "./paths.js"
import { makePublicRoutes } from "./tokenRoutes.js"

export interface AppOptions {
  readonly credentials: Credentials
  readonly faults: Faults.Service
  /** The largest request body accepted, in bytes. */
  readonly maxBodySize: number
  /** Where fault decisions draw from; the ambient `Random` when left out. */
  readonly random?: Random.Random | undefined
}

/** A request refused before or instead of the operation, with the answer to send. */
class Refused extends Data.TaggedError("Refused")<{ readonly answer: ErrorAnswer }> {}

/** This request's id, minted before anything else so that every answer carries it. */
class RequestId extends Context.Tag("@stytch-effect/emulator/RequestId")<RequestId, string>() {}

/** The answer of an injected 500 or 503, the same whether the operation ran first or not. */
const injectedFailure = (status: 500 | 503): ErrorAnswer => status === 503 ? serverUnavailable : internalServerError

const isJsonContentType = (contentType: string | undefined): boolean => {
  const mediaType = contentType?.split(";", 1)[0]?.trim().toLowerCase() ?? ""
  return mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType)
}

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Runs one operation on the service. The request has passed the operation's schema already; the
 * service checks it again (every implementation does), which costs little and keeps this generic.
 */
const call = (
  clients: M2MClients.Service,
  name: OperationName,
  request: any
): Effect.Effect<unknown, { readonly _tag: string }> => {
  switch (name) {
    case "create":
      return clients.create(request)
    case "get":
      return clients.get(request)
    case "update":
      return clients.update(request)
    case "delete":
      return clients.delete(request)
    case "search":
      return clients.search(request)
    case "rotateStart":
      return clients.secrets.rotateStart(request)
    case "rotateCancel":
      return clients.secrets.rotateCancel(request)
    case "rotate":
      return clients.secrets.rotate(request)
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Why a body was refused before its JSON was read. */
const notUtf8 = badRequest("The request body is not valid UTF-8.")

/** How long a refused body may take to arrive before the 413 goes out regardless. */
const drainGrace = "10 seconds"

/**
 * Lets the rest of a refused body flow in and away, and waits until it has (or `drainGrace` passes).
 * A socket closed while the client still writes is reset, and the reset can throw the answer away
 * before the client reads it: EPIPE or ECONNRESET instead of a 413, in about one try of ten at 10 MiB
 * and more. Node closes the socket as soon as it has answered a client that asked for
 * `Connection: close` (`agent: false` does), so the answer waits for the body, as a proxy's lingering
 * close would keep reading after answering. Loopback carries 50 MiB in well under a second.
 */
const drain = (incoming: Http.IncomingMessage): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (incoming.readableEnded || incoming.destroyed) return resume(Effect.void)
    const done = () => resume(Effect.void)
    incoming.once("end", done)
    incoming.once("close", done)
    incoming.once("error", done)
    incoming.resume()
    return Effect.sync(() => {
      incoming.off("end", done)
      incoming.off("close", done)
      incoming.off("error", done)
    })
  }).pipe(Effect.timeoutOption(drainGrace), Effect.asVoid)

/**
 * Reads a request body up to `maxBytes`, as UTF-8. Past the limit it stops collecting, drains the
 * rest and fails. The platform's own reader destroys the socket instead, so a client still
 * sending would see a reset rather than the answer.
 */
const readText = (incoming: Http.IncomingMessage, maxBytes: number): Effect.Effect<string, Refused> =>
  Effect.async((resume) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    const stop = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= maxBytes) return void chunks.push(chunk)
      stop()
      resume(Effect.zipRight(drain(incoming), new Refused({ answer: requestTooLarge(maxBytes) })))
    }
    const onEnd = () => {
      stop()
      // Not Buffer's decoder, which turns invalid bytes into U+FFFD: the store would hold what was not sent.
      resume(
        Effect.try({ try: () => utf8.decode(Buffer.concat(chunks)), catch: () => new Refused({ answer: notUtf8 }) })
      )
    }
    const onError = () => {
      stop()
      resume(Effect.fail(new Refused({ answer: badRequest("The request body could not be read.") })))
    }
    if (incoming.readableEnded) return resume(Effect.succeed(""))
    incoming.on("data", onData)
    incoming.on("end", onEnd)
    incoming.on("error", onError)
    return Effect.sync(stop)
  })

/**
 * Closes the connection without an answer. The server interrupts the request's fiber when its
 * connection closes, so this waits for that rather than answering into a destroyed socket.
 */
const dropConnection = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.zipRight(
    Effect.sync(() => NodeHttpServerRequest.toServerResponse(request).destroy()),
    Effect.never
  )

/** The answer to a request no route serves: another method's route (405), a bad id (400), or none (404). */
const unroutedAnswer = (resolution: Exclude<Resolution, { readonly _tag: "Found" }>): ErrorAnswer => {
  switch (resolution._tag) {
    case "MalformedClientId":
      return invalidPathClientId
    case "MethodNotAllowed":
      return methodNotAllowed(resolution.allowed)
    case "NotFound":
      return routeNotFound
  }
}

/**
 * The whole answer to a `CONNECT`, which Node hands to the server's `connect` event with the bare
 * socket instead of to the app: the app's answers to a method no route has, credentials first.
 */
export const makeConnectAnswer = (credentials: Credentials) => {
  const authenticate = makeAuthenticator(credentials)
  const requestIdPrefix = requestIdPrefixOf(credentials.projectId)
  return (request: Http.IncomingMessage): string => {
    const resolution = resolve(request.method ?? "CONNECT", rawPathOf(request.url ?? ""))
    const answer = authenticate(request.headers["authorization"]) ??
      (resolution._tag === "Found" ? routeNotFound : unroutedAnswer(resolution))
    return rawAnswer(answer, `${requestIdPrefix}${randomUUID()}`)
  }
}

/** Request ids in Stytch's shape: `request-id-live-…` for a live project, `request-id-test-…` otherwise. */
export const requestIdPrefixOf = (projectId: string) => `request-id-${projectEnvironment(projectId)}-`

export const makeApp = (options: AppOptions) =>
  Effect.gen(function*() {
    const clients = yield* M2MClients
    const authenticate = makeAuthenticator(options.credentials)
    const requestIdPrefix = requestIdPrefixOf(options.credentials.projectId)
    const draw = options.random ? Effect.withRandom(Random.next, options.random) : Random.next

    const readBody = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<Record<string, unknown>, Refused> =>
      Effect.gen(function*() {
        const declaredLength = Number(request.headers["content-length"] ?? 0)
        if (declaredLength > options.maxBodySize) {
          yield* drain(NodeHttpServerRequest.toIncomingMessage(request))
          return yield* new Refused({ answer: requestTooLarge(options.maxBodySize) })
        }
        const text = yield* readText(NodeHttpServerRequest.toIncomingMessage(request), options.maxBodySize)
        // The rotation endpoints take no fields; Stytch's SDKs send `{}`, others may send nothing.
        if (text.trim() === "") return {}
        if (!isJsonContentType(request.headers["content-type"])) {
          return yield* new Refused({ answer: unsupportedContentType })
        }
        const body = yield* Effect.try({
          try: () => JSON.parse(text) as unknown,
          // The parser's own message quotes the body, which may hold a secret.
          catch: () => new Refused({ answer: badRequest("The request body is not valid JSON.") })
        })
        if (!isJsonObject(body)) {
          return yield* new Refused({ answer: badRequest("The request body must be a JSON object.") })
        }
        return body
      })

    const serve = (
      name: OperationName,
      client_id: string | undefined,
      request: HttpServerRequest.HttpServerRequest
    ) =>
      Effect.gen(function*() {
        const requestId = yield* RequestId
        const op: Operation = Operations[name]
        const faults = faultsFor(yield* options.faults.plan, name)
        if (faults.latency) yield* Effect.sleep(faults.latency)
        // Only routes with faults draw, so a test's own checks on other routes leave its sequence alone.
        const decision = faults.drop || faults.fail || faults.commitThenFail
          ? decide(faults, yield* draw)
          : { _tag: "Serve" as const }
        if (decision._tag === "Drop" && !decision.afterCommit) return yield* dropConnection(request)
        if (decision._tag === "Fail") {
          return respondError(injectedFailure(decision.status), requestId)
        }

        const body = op.method === "GET" || op.method === "DELETE" ? {} : yield* readBody(request)
        const decoded = yield* decodeRequest(op, client_id === undefined ? body : { ...body, client_id }).pipe(
          Effect.mapError((error) => new Refused({ answer: invalidRequestAnswer(error, body) }))
        )
        const outcome = yield* Effect.either(call(clients, name, decoded))

        if (decision._tag === "Drop") return yield* dropConnection(request)
        if (decision._tag === "CommitThenFail" && outcome._tag === "Right") {
          return respondError(injectedFailure(decision.status), requestId)
        }
        if (outcome._tag === "Left") {
          const error = outcome.left
          if (error._tag === "InvalidRequest") {
            return respondError(invalidRequestAnswer(error as InvalidRequest, body), requestId)
          }
          if (error._tag === "TransportError" || error._tag === "MalformedResponse") {
            return yield* Effect.die(error)
          }
          return respondApiError(error as AnyApiError, requestId)
        }
        const encoded = yield* Schema.encode(op.response)(outcome.right).pipe(Effect.orDie)
        const status = typeof encoded.status_code === "number" && encoded.status_code >= 200 &&
            encoded.status_code < 300
          ? encoded.status_code
          : 200
        return HttpServerResponse.unsafeJson({ ...encoded, request_id: requestId }, { status })
      })

    // The router dispatches by method and route; the raw path then decides the client id (see paths.ts).
    const router = HttpRouter.fromIterable(operationNames.map((name) => {
      const op: Operation = Operations[name]
      return HttpRouter.makeRoute(
        op.method,
        op.route as HttpRouter.PathInput,
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const match = matchPath(op, rawPathOf(request.url))
          return match._tag === "Matched"
            ? serve(name, match.client_id, request)
            : unrouted(request)
        })
      )
    }))

    const unrouted = (request: HttpServerRequest.HttpServerRequest) => {
      const resolution = resolve(request.method, rawPathOf(request.url))
      // A path the router read differently from the raw one (a raw `;`, say): the raw path decides.
      return resolution._tag === "Found"
        ? serve(resolution.name, resolution.client_id, request)
        : Effect.fail(new Refused({ answer: unroutedAnswer(resolution) }))
    }

    // The token endpoint and the key set take no project credentials, so they are served before the check.
    const publicRoute = yield* makePublicRoutes({
      projectId: options.credentials.projectId,
      faults: options.faults,
      draw,
      readText: (request) => readText(NodeHttpServerRequest.toIncomingMessage(request), options.maxBodySize)
    })

    return Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const requestId = `${requestIdPrefix}${randomUUID()}`
      return yield* Effect.gen(function*() {
        const servePublic = publicRoute(rawPathOf(request.url))
        if (servePublic) return yield* servePublic(request, requestId)
        const denied = authenticate(request.headers["authorization"])
        if (denied) return respondError(denied, requestId)
        return yield* router.pipe(Effect.catchTag("RouteNotFound", () => unrouted(request)))
      }).pipe(
        Effect.catchTag("Refused", ({ answer }) => Effect.succeed(respondError(answer, requestId))),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.as(
              Effect.logError("The emulator failed to serve a request", cause).pipe(
                Effect.annotateLogs({ request_id: requestId })
              ),
              respondError(internalServerError, requestId)
            )
        ),
        Effect.provideService(RequestId, requestId)
      )
    })
  })
