/**
 * The `M2MClients` service: the contract that every implementation (the http layer, the in-memory
 * layer) fulfils and every consumer (search streams, apps) programs against.
 *
 * Implementations are built with `M2MClients.make`, which validates each request against its schema
 * before the implementation sees it and wraps each call in a span named after the method, so both
 * behave the same way in every implementation.
 */
import type { Tracer } from "effect"
import { Context, Effect, Either, ParseResult, Schema } from "effect"
import { InvalidRequest } from "./M2MError.js"
import type * as E from "./M2MError.js"
import * as Op from "./Operations.js"
import { Operations } from "./Operations.js"

export type CreateError =
  | E.DuplicateClientId
  | E.ClientSecretLost
  | E.InvalidClientSecret
  | E.InvalidScope
  | E.CommonError
export type GetError = E.ClientNotFound | E.CommonError
export type UpdateError = E.ClientNotFound | E.InvalidScope | E.CommonError
export type DeleteError = E.ClientNotFound | E.CommonError
export type SearchError = E.InvalidSearchQuery | E.CommonError
export type RotateStartError = E.ClientNotFound | E.SecretAlreadyRotating | E.CommonError
export type RotateCancelError = E.ClientNotFound | E.SecretNotRotating | E.CommonError
export type RotateError = E.ClientNotFound | E.SecretNotRotating | E.CommonError

export declare namespace M2MClients {
  export interface Service {
    /** Creates a client. The response holds its secret: the only time it is shown. */
    readonly create: (request: Op.M2MClientsCreateRequest) => Effect.Effect<Op.M2MClientsCreateResponse, CreateError>
    readonly get: (request: Op.M2MClientsGetRequest) => Effect.Effect<Op.M2MClientsGetResponse, GetError>
    /** Changes only the fields given. */
    readonly update: (request: Op.M2MClientsUpdateRequest) => Effect.Effect<Op.M2MClientsUpdateResponse, UpdateError>
    readonly delete: (request: Op.M2MClientsDeleteRequest) => Effect.Effect<Op.M2MClientsDeleteResponse, DeleteError>
    /** One page of clients; see `@stytch-effect/search` for a stream over all pages. */
    readonly search: (request: Op.M2MClientsSearchRequest) => Effect.Effect<Op.M2MClientsSearchResponse, SearchError>
    readonly secrets: {
      /** Makes a next secret, shown only in this response; both secrets work until the rotation ends. */
      readonly rotateStart: (
        request: Op.M2MClientsSecretsRotateStartRequest
      ) => Effect.Effect<Op.M2MClientsSecretsRotateStartResponse, RotateStartError>
      /** Discards the next secret. */
      readonly rotateCancel: (
        request: Op.M2MClientsSecretsRotateCancelRequest
      ) => Effect.Effect<Op.M2MClientsSecretsRotateCancelResponse, RotateCancelError>
      /** The next secret becomes the current one; the old one stops working. */
      readonly rotate: (
        request: Op.M2MClientsSecretsRotateRequest
      ) => Effect.Effect<Op.M2MClientsSecretsRotateResponse, RotateError>
    }
  }
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) => typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`,
    ""
  )

/** Where the value is a secret, the rule alone, whatever the schema's own message says. */
const secretRule = "must be a Redacted string of at least 8 characters"
/** The secret rules whose own messages are safe to show: they never quote the value. */
const secretRules = new Set(["must be at least 8 characters", "must be well-formed Unicode"])

/**
 * How deep a request may nest, all fields together: `trusted_metadata` takes 64 levels of its own.
 * Deeper values are refused before the schema sees them, as formatting its message about one (which
 * prints the value) would overflow the stack.
 */
export const maxRequestDepth = 100

/** The top-level field of `request` that nests deeper than `maxRequestDepth`, walked without recursion. */
const tooDeep = (request: unknown): string | undefined => {
  if (typeof request !== "object" || request === null) return undefined
  for (const [field, root] of Object.entries(request)) {
    const pending: Array<readonly [value: unknown, depth: number]> = [[root, 1]]
    while (pending.length > 0) {
      const [value, depth] = pending.pop()!
      if (typeof value !== "object" || value === null) continue
      if (depth > maxRequestDepth) return field
      for (const item of Array.isArray(value) ? value : Object.values(value)) pending.push([item, depth + 1])
    }
  }
  return undefined
}

const tooDeepError = (operation: string, field: string) =>
  new InvalidRequest({ operation, field, rule: `must not nest deeper than ${maxRequestDepth} levels` })

/**
 * The first broken rule of a request, as an `InvalidRequest` naming the field. A schema's default
 * message ends with the value it refused (`Expected string, actual …`); only the expectation is kept.
 */
export const invalidRequest = (operation: string, error: ParseResult.ParseError): InvalidRequest => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const field = issue ? formatPath(issue.path) : ""
  const rule = !issue
    ? "is invalid"
    : field.startsWith("client_secret") && !secretRules.has(issue.message)
    ? secretRule
    : issue.message.replace(/^Expected ([\s\S]*?), actual [\s\S]*$/, "must be $1")
  return new InvalidRequest({ operation, field: field || "(request)", rule })
}

// Building a validator costs ten times what running it does, so each operation's is built once.
const validators = new WeakMap<Op.Operation, (request: unknown) => Effect.Effect<unknown, ParseResult.ParseError>>()
const decoders = new WeakMap<Op.Operation, (request: unknown) => Effect.Effect<unknown, ParseResult.ParseError>>()

const checkWith = <O extends Op.Operation>(
  op: O,
  request: unknown,
  cache: typeof validators,
  build: (schema: Schema.Schema<any, any>) => (request: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
): Effect.Effect<Op.Operation.Request<O>, InvalidRequest> => {
  const deep = tooDeep(request)
  if (deep !== undefined) return Effect.fail(tooDeepError(op.name, deep))
  let check = cache.get(op)
  if (check === undefined) {
    check = build(op.request)
    cache.set(op, check)
  }
  return check(request).pipe(
    Effect.mapError((error) => invalidRequest(op.name, error))
  ) as Effect.Effect<Op.Operation.Request<O>, InvalidRequest>
}

/** Checks a request against its operation's schema, as every implementation does before acting. */
export const validateRequest = <O extends Op.Operation>(
  op: O,
  request: unknown
): Effect.Effect<Op.Operation.Request<O>, InvalidRequest> => checkWith(op, request, validators, Schema.validate)

/** Decodes a request from its wire form (JSON, secrets as plain strings), with the same checks. */
export const decodeRequest = <O extends Op.Operation>(
  op: O,
  request: unknown
): Effect.Effect<Op.Operation.Request<O>, InvalidRequest> => checkWith(op, request, decoders, Schema.decodeUnknown)

/**
 * Checks a request and gives its wire form (what `Schema.encode` makes of it) in one pass of the schema:
 * encoding checks the request against its type as validation does, so an implementation that sends
 * the wire form need not validate first. A request that fails gets the `InvalidRequest` that
 * `validateRequest` gives, whatever the order in which encoding met its faults.
 */
export const encodeRequest = <O extends Op.Operation>(
  op: O,
  request: unknown
): Effect.Effect<Op.Operation.Encoded<O>, InvalidRequest> => {
  const deep = tooDeep(request)
  if (deep !== undefined) return Effect.fail(tooDeepError(op.name, deep))
  let encode = encoders.get(op)
  if (encode === undefined) {
    encode = Schema.encodeUnknownEither(op.request)
    encoders.set(op, encode)
  }
  // An `Either`, not an effect: the requests' schemas are synchronous, and this runs on every call.
  const encoded = encode(request)
  if (Either.isRight(encoded)) return Effect.succeed(encoded.right as Op.Operation.Encoded<O>)
  const encodeError = encoded.left
  // Only on failure: the message is validation's, so both paths refuse a request the same way.
  return Effect.flatMap(
    Effect.either(validateRequest(op, request)),
    (validated) => Effect.fail(validated._tag === "Left" ? validated.left : invalidRequest(op.name, encodeError))
  )
}

const encoders = new WeakMap<Op.Operation, (request: unknown) => Either.Either<unknown, ParseResult.ParseError>>()

type Implementation<O extends Op.Operation, E> = (
  request: Op.Operation.Request<O>,
  encoded: Op.Operation.Encoded<O>,
  span: Tracer.Span | undefined
) => Effect.Effect<Op.Operation.Response<O>, E>

/** A method that is also given its request's wire form. */
type WithEncoded<F> = F extends (request: infer R) => infer Out ? (request: R, encoded: unknown) => Out : never

/**
 * A method that is also given its request's wire form and the operation's span: none when the program
 * has no tracer of its own, as nobody could see it.
 */
type WithEncodedAndSpan<F> = F extends (request: infer R) => infer Out
  ? (request: R, encoded: unknown, span: Tracer.Span | undefined) => Out
  : never

export declare namespace M2MClients {
  /** An implementation for `M2MClients.makeEncoded`: each method also takes its request's wire form. */
  export interface EncodedImplementation {
    readonly create: WithEncoded<Service["create"]>
    readonly get: WithEncoded<Service["get"]>
    readonly update: WithEncoded<Service["update"]>
    readonly delete: WithEncoded<Service["delete"]>
    readonly search: WithEncoded<Service["search"]>
    readonly secrets: {
      readonly rotateStart: WithEncoded<Service["secrets"]["rotateStart"]>
      readonly rotateCancel: WithEncoded<Service["secrets"]["rotateCancel"]>
      readonly rotate: WithEncoded<Service["secrets"]["rotate"]>
    }
  }

  /**
   * An implementation for `M2MClients.makeEncodedWithSpan`: each method also takes its request's wire
   * form and the operation's span.
   */
  export interface SpannedImplementation {
    readonly create: WithEncodedAndSpan<Service["create"]>
    readonly get: WithEncodedAndSpan<Service["get"]>
    readonly update: WithEncodedAndSpan<Service["update"]>
    readonly delete: WithEncodedAndSpan<Service["delete"]>
    readonly search: WithEncodedAndSpan<Service["search"]>
    readonly secrets: {
      readonly rotateStart: WithEncodedAndSpan<Service["secrets"]["rotateStart"]>
      readonly rotateCancel: WithEncodedAndSpan<Service["secrets"]["rotateCancel"]>
      readonly rotate: WithEncodedAndSpan<Service["secrets"]["rotate"]>
    }
  }
}

/**
 * The tracer every program has until it provides one of its own (OpenTelemetry's, say): its spans reach
 * no one, so an operation under it gets none.
 */
const nativeTracer = Effect.runSync(Effect.tracer)

const build = (
  implementation: M2MClients.SpannedImplementation,
  check: <O extends Op.Operation>(op: O, request: unknown) => Effect.Effect<unknown, InvalidRequest>,
  requestOf: (checked: unknown, request: unknown) => unknown,
  encodedOf: (checked: unknown) => unknown,
  /** Whether the call's fiber gets the span as its parent span, or only the implementation, as an argument. */
  parentSpan: boolean
): M2MClients.Service => {
  const method =
    <O extends Op.Operation, E>(op: O, run: Implementation<O, E>) => (request: Op.Operation.Request<O>) => {
      const options: Tracer.SpanOptions = {
        kind: "client",
        // A stack trace per call costs a tenth of an in-memory create and says nothing the name does not.
        captureStackTrace: false,
        attributes: typeof request?.client_id === "string" ? { "m2m.client_id": request.client_id } : {}
      }
      // Suspended, so even a validator that throws is a defect inside the effect, never a throw at the call.
      const called = (span: Tracer.Span | undefined) =>
        Effect.flatMap(Effect.suspend(() => check(op, request)), (checked) =>
          run(
            requestOf(checked, request) as Op.Operation.Request<O>,
            encodedOf(checked) as Op.Operation.Encoded<O>,
            span
          ))
      return Effect.tracerWith((tracer) =>
        // A span nobody can see costs about a tenth of an http `get`'s CPU (`get` benchmark).
        tracer === nativeTracer
          ? called(undefined)
          // `Effect.withSpan` is this `useSpan` with the span provided as the parent span around it.
          : Effect.useSpan(op.name, options, (span) =>
            parentSpan ? Effect.withParentSpan(called(span), span) : called(span))
      )
    }
  return {
    create: method(Operations.create, implementation.create),
    get: method(Operations.get, implementation.get),
    update: method(Operations.update, implementation.update),
    delete: method(Operations.delete, implementation.delete),
    search: method(Operations.search, implementation.search),
    secrets: {
      rotateStart: method(Operations.rotateStart, implementation.secrets.rotateStart),
      rotateCancel: method(Operations.rotateCancel, implementation.secrets.rotateCancel),
      rotate: method(Operations.rotate, implementation.secrets.rotate)
    }
  }
}

/**
 * Builds the service from an implementation of each method: every request is validated first (a bad
 * one fails with `InvalidRequest` and never reaches the implementation), and every call runs in a span
 * named after its method (`M2MClients.get`) carrying the client id.
 */
const make = (implementation: M2MClients.Service): M2MClients.Service =>
  build(implementation, validateRequest, (validated) => validated, () => undefined, true)

/**
 * `make` for an implementation that sends requests in their wire form (the http layer): each request
 * is checked and encoded in one pass (`encodeRequest`), refused with the same `InvalidRequest` as
 * `make` refuses it, and the method gets the request as the caller gave it and its wire form.
 */
const makeEncoded = (implementation: M2MClients.EncodedImplementation): M2MClients.Service =>
  build(implementation, encodeRequest, (_, request) => request, (encoded) => encoded, true)

/**
 * `makeEncoded` for an implementation that runs its work in fibers of its own (the http layer, one per
 * attempt): each method also gets the operation's span, which the call's own fiber does not get as its
 * parent span. The implementation makes it the parent span of whatever it runs (in the context of each
 * fiber it forks, or with `Effect.withParentSpan`), so that spans, logs and tracers see the same tree as
 * under `makeEncoded`. Providing the parent span around every call is a FiberRef scope set and
 * restored per call, about a fifth of the http layer's own CPU per `get` (`get` benchmark).
 */
const makeEncodedWithSpan = (implementation: M2MClients.SpannedImplementation): M2MClients.Service =>
  build(implementation, encodeRequest, (_, request) => request, (encoded) => encoded, false)

/** The service's tag. Provide it with `@stytch-effect/http`'s or `@stytch-effect/memory`'s layer. */
export class M2MClients extends Context.Tag("@stytch-effect/core/M2MClients")<M2MClients, M2MClients.Service>() {
  static readonly make = make
  static readonly makeEncoded = makeEncoded
  static readonly makeEncodedWithSpan = makeEncodedWithSpan
}
