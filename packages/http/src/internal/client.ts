/**
 * The `M2MClients` service over an `HttpClient`: one generic `send` drives all eight operations from
 * core's descriptors, so a request is built, retried and decoded the same way whichever operation it is.
 *
 * The retry policy lives here because it depends on what each attempt's failure says about the server:
 * whether another attempt can get a different answer (5XX, 429, a dropped connection, a timeout), and
 * whether the server may have carried the request out although no success came back. An operation that
 * is not safe to repeat is retried only when the server certainly did nothing.
 */
import { HttpClientError, HttpClientRequest, HttpTraceContext } from "@effect/platform"
import type { HttpClientResponse } from "@effect/platform"
import type { Operation } from "@stytch-effect/core"
import {
  ApiError,
  bodyOf,
  ClientSecretLost,
  DuplicateClientId,
  ErrorBody,
  fromApiErrorFields,
  InvalidRequest,
  M2MClients,
  M2MClientsCreateResponse,
  M2MClientWithClientSecret,
  MalformedResponse,
  maxRequestBodyBytes,
  Operations,
  pathOf,
  ServerError,
  TransportError
} from "@stytch-effect/core"
import type { CreateError, M2MClientsCreateRequest } from "@stytch-effect/core"
import { Clock, Duration, Effect, Either, Option, ParseResult, Predicate, Redacted, Schema, Tracer } from "effect"
import type { AttemptClient } from "./apiClient.js"
import type { AttemptFailure, RetryPolicy } from "./attempts.js"
import * as Attempts from "./attempts.js"
import { BodyTooLarge } from "./bodyLimit.js"
import type { Deadlines } from "./deadlines.js"

export type { AttemptFailure, RetriedError, RetryPolicy } from "./attempts.js"

/** The last attempt's error, and whether an earlier attempt may have been carried out. */
interface Failed<O extends Operation> {
  readonly error: Operation.Error<O>
  readonly anAttemptMayHaveActed: boolean
}

/** `undefined` when the text is not JSON. JSON.parse's own message quotes the text, so it is dropped. */
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Where a body broke its schema, naming the field but never quoting a value (it may be a secret). */
const describeMismatch = (schemaName: string, error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const [first] = issues
  if (first === undefined) return `the body does not match ${schemaName}`
  const field = first.path.length === 0 ? "the body" : first.path.map(String).join(".")
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""
  return `${field} ${first._tag === "Missing" ? "is missing" : "has an unexpected value"} in ${schemaName}${more}`
}

/** `Retry-After` is either delay-seconds or an HTTP date. */
const parseRetryAfter = (value: string | undefined, nowMillis: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - nowMillis))
}

/** Errors that prove the connection never opened, so no request reached the server. */
const neverSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"])

/** The `code`s along a transport error's cause chain (Node and undici set them); never its messages. */
const errorCodes = (cause: unknown, depth = 0): Array<string> => {
  if (depth > 8 || typeof cause !== "object" || cause === null) return []
  const { code, errors, cause: inner } = cause as { code?: unknown; errors?: unknown; cause?: unknown }
  return [
    ...(typeof code === "string" ? [code] : []),
    ...(Array.isArray(errors) ? errors.flatMap((error) => errorCodes(error, depth + 1)) : []),
    ...errorCodes(inner, depth + 1)
  ]
}

/**
 * A platform error becomes a `TransportError` holding only a description: the platform error holds the
 * request, and with it the Authorization header, so it is never kept.
 */
export const transportFailure = (
  operation: string,
  error: HttpClientError.HttpClientError,
  attempts: number
): AttemptFailure => {
  if (error._tag === "RequestError" && error.reason !== "Transport") {
    return {
      error: new TransportError({
        operation,
        reason: "Connection",
        description: error.reason === "Encode" ? "the request could not be encoded" : "the request URL is invalid",
        attempts
      }),
      transient: false,
      mayHaveActed: false
    }
  }
  // `UndiciHttpClient`'s bound on a body: our own words, quoting nothing, and another attempt would
  // read as much again.
  if (error._tag === "ResponseError" && error.cause instanceof BodyTooLarge) {
    return {
      error: new TransportError({
        operation,
        reason: "Connection",
        description: `the answer's body was not read: ${error.description}`,
        attempts
      }),
      transient: false,
      mayHaveActed: true
    }
  }
  const codes = [...new Set(errorCodes(error.cause))]
  const neverSent = error._tag === "RequestError" && codes.length > 0 && codes.every((code) => neverSentCodes.has(code))
  const what = error._tag === "RequestError"
    ? "the connection failed"
    : "the connection failed while reading the answer"
  return {
    error: new TransportError({
      operation,
      reason: "Connection",
      description: codes.length > 0 ? `${what} (${codes.join(", ")})` : what,
      attempts
    }),
    transient: true,
    mayHaveActed: !neverSent
  }
}

const isSuccess = (status: number) => status >= 200 && status < 300

/**
 * Stytch's API never redirects, and following one would send the request (a create turned into a GET,
 * say) to wherever the `Location` points, and report that origin's answer as the API's. So no
 * redirect is followed (fetch is asked for `redirect: "manual"`; undici follows none), and a 3XX is an
 * `ApiError` naming its status. Status 0 is how a browser's fetch shows a redirect it did not follow.
 */
const isRedirect = (status: number) => status === 0 || (status >= 300 && status < 400)

const redirectFailure = (status: number, attempts: number): AttemptFailure => ({
  error: new ApiError({
    status_code: status,
    error_type: "unexpected_redirect",
    error_message: `the answer is a redirect (HTTP ${status}), which Stytch's API never sends; it was not followed`,
    attempts
  }, { disableValidation: true }),
  transient: false,
  mayHaveActed: false
})

/**
 * A `request_id` as Stytch makes them (`request-id-test-<uuid>`). Any other value a 2XX body puts there
 * is not kept: a server that echoes the request would otherwise put its credentials into the error.
 */
const requestIdShape = /^request-id-[a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The `request_id` of a 2XX body that is kept on a `MalformedResponse`: one in Stytch's shape only. */
export const keptRequestId = (body: unknown): string | undefined =>
  Predicate.hasProperty(body, "request_id") && Predicate.isString(body.request_id) &&
    requestIdShape.test(body.request_id)
    ? body.request_id
    : undefined

/**
 * Whether a text quotes any 8 characters of a secret the request carried (the project's credentials,
 * a caller's client secret): a server or proxy that echoes the request would put them into the error.
 */
export type Quotes = (text: string) => boolean

/** The start every Stytch project secret has. */
const publicPrefix = /^secret-(test|live)-/

export const quoting = (secrets: ReadonlyArray<Redacted.Redacted<string>>): Quotes => {
  const windows = new Set<string>()
  for (const secret of secrets) {
    const value = Redacted.value(secret)
    // A project secret's `secret-test-` is its public shape, not its secret: a window reaching into it
    // (`-test-3f`) is matched by any request id (`request-id-test-3f…`) whose next characters happen to
    // agree, one answer in 256 for some secrets. Only windows of what follows count.
    const from = publicPrefix.exec(value)?.[0].length ?? 0
    for (let i = from; i + 8 <= value.length; i++) windows.add(value.slice(i, i + 8))
  }
  return (text) => {
    for (let i = 0; i + 8 <= text.length; i++) {
      if (windows.has(text.slice(i, i + 8))) return true
    }
    return false
  }
}

/** Reads one answer: a decoded success, or the failure it stands for. */
export const answer = <O extends Operation>(
  op: O,
  response: HttpClientResponse.HttpClientResponse,
  attempts: number,
  quotes: Quotes,
  /** The span that gets the status: the request's own, or else the operation's (`currentSpan`). */
  span: Tracer.Span | undefined
): Effect.Effect<Operation.Response<O>, AttemptFailure | HttpClientError.ResponseError> => {
  const status = response.status
  span?.attribute("http.response.status_code", status)
  // Plain combinators rather than a generator: this runs on every call, and the generator's steps cost.
  return Effect.flatMap(response.text, (text) => {
    if (isRedirect(status)) return Effect.fail(redirectFailure(status, attempts))
    if (isSuccess(status)) return success(op, status, parseJson(text), attempts)
    // An error body that quotes the request's secrets is not kept, whatever else it says.
    return apiFailure(op, response, quotes(text) ? quotedCredentials : parseJson(text), attempts)
  })
}

/**
 * The span a call runs in, looked up once per call. `Effect.annotateCurrentSpan` looks it up on every
 * use, and where there is none (an external parent, no span at all) builds an error and recovers from
 * it, which cost more than the rest of an annotation.
 */
export const currentSpan: Effect.Effect<Tracer.Span | undefined> = Effect.map(
  Effect.serviceOption(Tracer.ParentSpan),
  (parent) => parent._tag === "Some" && parent.value._tag === "Span" ? parent.value : undefined
)

/** `effect` with `span` as its parent span, when there is one (no tracer of the app's own: none). */
const withParentSpanIfAny = <A, E, R>(effect: Effect.Effect<A, E, R>, span: Tracer.Span | undefined) =>
  span === undefined ? effect : Effect.withParentSpan(effect, span)

// Each operation's decoder built once, and run for an `Either`: the answers' schemas are synchronous.
const decoders = new WeakMap<Operation, (json: unknown) => Either.Either<unknown, ParseResult.ParseError>>()
const decoderOf = (op: Operation) => {
  let decode = decoders.get(op)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(op.response)
    decoders.set(op, decode)
  }
  return decode
}

const decodeErrorBody = Schema.decodeUnknownEither(ErrorBody)

const success = <O extends Operation>(
  op: O,
  status: number,
  json: unknown,
  attempts: number
): Effect.Effect<Operation.Response<O>, AttemptFailure> => {
  if (json === undefined) {
    return Effect.fail({
      error: new MalformedResponse({
        operation: op.name,
        status_code: status,
        description: "the body is not JSON",
        attempts
      }),
      transient: false,
      mayHaveActed: true
    })
  }
  const decoded = decoderOf(op)(json)
  if (Either.isRight(decoded)) return Effect.succeed(decoded.right as Operation.Response<O>)
  const error = decoded.left
  return Effect.fail({
    error: new MalformedResponse({
      operation: op.name,
      status_code: status,
      // The body may be any JSON at all here, `null` included.
      request_id: keptRequestId(json),
      // A proxy or gateway that answers an error with a 2XX: named as such, not by its first missing field.
      description: Either.isRight(decodeErrorBody(json))
        ? "the body is an error body, though the status is 2XX"
        : describeMismatch(op.name.replace("M2MClients.", "the answer of "), error),
      attempts
    }),
    transient: false,
    mayHaveActed: true
  })
}

const quotedCredentials = Symbol("quotedCredentials")

const apiFailure = <O extends Operation>(
  op: O,
  response: HttpClientResponse.HttpClientResponse,
  json: unknown,
  attempts: number
): Effect.Effect<never, AttemptFailure> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const status = response.status
    const retryAfter = parseRetryAfter(response.headers["retry-after"], now)
    const body = json === undefined || json === quotedCredentials
      ? Option.none()
      : Either.getRight(decodeErrorBody(json))
    const fields = Option.match(body, {
      onNone: () => ({
        error_type: "unparsed_error_body",
        error_message: json === quotedCredentials
          ? "the error body quotes the request's credentials, so it is not kept"
          : `the answer is not a JSON error body (${response.headers["content-type"] ?? "no content type"})`
      }),
      onSome: ({ status_code: _, ...body }) => body
    })
    const error = fromApiErrorFields({
      ...fields,
      // The HTTP status is what the retry policy and the error class go by, whatever the body says.
      status_code: status,
      attempts,
      ...(retryAfter === undefined ? {} : { retry_after_millis: Duration.toMillis(retryAfter) })
    }, op.errors)
    return Effect.fail({
      error,
      transient: status === 429 || status >= 500,
      // A 429 means the request was turned away; a 5XX may come after the work was done.
      mayHaveActed: status >= 500,
      retryAfter
    })
  })

/**
 * Proves that `secret` is the secret of client `client_id`; `false` (or a failure) when it is not. A
 * token request with the secret is such a proof.
 */
export type ProveSecret = (client_id: string, secret: Redacted.Redacted<string>) => Effect.Effect<boolean, unknown>

export interface ServiceOptions {
  readonly retry: RetryPolicy | undefined
  /** Each attempt's timeout, and the watchdog that keeps it. */
  readonly deadlines: Deadlines
  /** A client id for each create that gives none; `undefined` leaves it to the server. */
  readonly generateClientId?: (() => string) | undefined
  /** Confirms a create after a lost answer; without it such a create fails with its `DuplicateClientId`. */
  readonly proveSecret?: ProveSecret | undefined
  /** A span of our own per request (never the platform's, which ends with the raw response). */
  readonly requestSpans?: { readonly propagate: boolean } | undefined
  /** The secrets every request carries (the project's credentials), which no error may quote. */
  readonly credentials?: ReadonlyArray<Redacted.Redacted<string>> | undefined
}

/**
 * The errors after which a create's outcome is unknown, naming the `client_id` it used, so that the
 * caller can repeat it with that id: it then makes the client, or finds it made.
 */
const namingClient = (error: CreateError, client_id: string): CreateError => {
  switch (error._tag) {
    case "TransportError":
      return new TransportError({
        operation: error.operation,
        reason: error.reason,
        description: error.description,
        ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
        client_id
      })
    case "MalformedResponse":
      return new MalformedResponse({
        operation: error.operation,
        status_code: error.status_code,
        ...(error.request_id === undefined ? {} : { request_id: error.request_id }),
        description: error.description,
        ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
        client_id
      })
    case "ServerError": {
      const { _tag: _, ...fields } = error
      return new ServerError({ ...fields, client_id }, { disableValidation: true })
    }
    default:
      return error
  }
}

/** The service over a client that already carries the base URL, credentials and headers. */
export const makeService = (client: AttemptClient, options: ServiceOptions): M2MClients.Service => {
  const { deadlines } = options
  const credentials = options.credentials ?? []
  const quotesCredentials = quoting(credentials)
  const driver = Attempts.make(options.retry, deadlines)

  /** The request from its wire form, which `M2MClients.makeEncoded` checked and encoded in one pass. */
  const toHttpRequest = <O extends Operation>(
    op: O,
    request: Operation.Request<O>,
    encoded: Operation.Encoded<O>
  ): HttpClientRequest.HttpClientRequest | InvalidRequest => {
    const httpRequest = HttpClientRequest.make(op.method)(pathOf(op, request as { client_id?: string }))
    const body = bodyOf(op, encoded as object)
    if (body === undefined) return httpRequest
    const withBody = HttpClientRequest.bodyUnsafeJson(httpRequest, body)
    // Refused here, not cut off by the server mid-upload, which looks like a lost answer.
    return withBody.body._tag === "Uint8Array" && withBody.body.body.length > maxRequestBodyBytes
      ? new InvalidRequest({
        operation: op.name,
        field: "(request)",
        rule: `must be at most ${maxRequestBodyBytes} bytes as JSON`
      })
      : withBody
  }

  /**
   * One request in a span of our own, named and annotated as the platform's `http.client` span, which
   * is never used: it ends with the raw response (its request's headers, its body once read), and a
   * tracer that keeps span exits would hold the credentials. This one ends with the decoded answer or
   * our own error, and records no header.
   */
  const requestSpan = <A, E>(
    httpRequest: HttpClientRequest.HttpClientRequest,
    operationSpan: Tracer.Span | undefined,
    run: (request: HttpClientRequest.HttpClientRequest, span: Tracer.Span | undefined) => Effect.Effect<A, E>
  ): Effect.Effect<A, E> => {
    if (options.requestSpans === undefined) return run(httpRequest, operationSpan)
    const { propagate } = options.requestSpans
    return Effect.useSpan(`http.client ${httpRequest.method}`, { kind: "client", captureStackTrace: false }, (span) => {
      span.attribute("http.request.method", httpRequest.method)
      span.attribute("url.full", httpRequest.url)
      return Effect.withParentSpan(
        run(
          propagate ? HttpClientRequest.setHeaders(httpRequest, HttpTraceContext.toHeaders(span)) : httpRequest,
          span
        ),
        span
      )
    })
  }

  /** Sends `request`; its failure is the last attempt's error and whether an earlier one may have acted. */
  const send = <O extends Operation, F>(
    op: O,
    request: Operation.Request<O>,
    encoded: Operation.Encoded<O>,
    repeatable: boolean,
    failed: (error: Operation.Error<O>, anAttemptMayHaveActed: boolean) => F,
    /** The operation's span, which each attempt's fiber gets as its parent span; none when nobody traces. */
    span: Tracer.Span | undefined
  ): Effect.Effect<Operation.Response<O>, F> => {
    const httpRequest = toHttpRequest(op, request, encoded)
    if (httpRequest instanceof InvalidRequest) return Effect.fail(failed(httpRequest as Operation.Error<O>, false))
    // Plain combinators, and as few as the work needs: this runs on every call.
    return Effect.suspend(() => {
      // One call's own bookkeeping. Each attempt runs in a fiber of its own, but only after the last one
      // ended, so plain variables suffice.
      let anAttemptMayHaveActed = false
      const clientSecret = (request as { readonly client_secret?: Redacted.Redacted<string> }).client_secret
      const quotes = clientSecret === undefined ? quotesCredentials : quoting([...credentials, clientSecret])
      // The span gets the number of the last attempt begun, set as each begins rather than by an
      // `ensuring` at the end: the same value, whatever ends the call.
      span?.attribute("m2m.attempts", 0)
      const retried = driver.run(op.name, (number) => {
        span?.attribute("m2m.attempts", number)
        return Effect.zipRight(
          client.enter(span),
          requestSpan(httpRequest, span, (request, requestSpan) =>
            Effect.catchIf(
              Effect.flatMap(client.client.execute(request), (response) =>
                answer(op, response, number, quotes, requestSpan)),
              HttpClientError.isHttpClientError,
              (error) =>
                Effect.fail(transportFailure(op.name, error, number))
            ))
        )
      }, {
        repeatable: (failure) => repeatable || !failure.mayHaveActed,
        onFailure: (failure) => {
          if (failure.mayHaveActed) anAttemptMayHaveActed = true
        }
      })
      // Every error here is common to all operations, or an API error that fromApiErrorFields kept
      // within the operation's own classes.
      return Effect.mapError(retried, (failure) => failed(failure.error as Operation.Error<O>, anAttemptMayHaveActed))
    })
  }

  const errorOnly = <E>(error: E) => error

  const call =
    <O extends Operation>(op: O, repeatable: boolean) =>
    (request: Operation.Request<O>, encoded: unknown, span: Tracer.Span | undefined) =>
      send(op, request, encoded as Operation.Encoded<O>, repeatable, errorOnly, span)

  /**
   * A `DuplicateClientId` after an attempt that may have been carried out most likely means that
   * attempt created the client, and its answer, with the secret, was lost. Without the caller's own
   * secret, nobody has it: `ClientSecretLost`. With one, the create succeeds only once the secret is
   * proven to be the client's:
   * - the id was generated here for this create: it is unguessable, so the client under it can only be
   *   this create's, made with this secret;
   * - the caller's own id: it may have been taken by another client, whose secret could even end in the
   *   same four characters, so only `proveSecret` can confirm it; without it, or if it says no, the
   *   create fails with the `DuplicateClientId` it met, which is true: the id is taken.
   * The client is read back for its fields; a read-back that fails ends the create with its error,
   * naming the client (the create may have made it), and one that finds no client with the
   * `DuplicateClientId`.
   */
  const recoverCreate = (
    request: M2MClientsCreateRequest & { readonly client_id: string },
    duplicate: DuplicateClientId,
    generated: boolean
  ): Effect.Effect<M2MClientsCreateResponse, CreateError> => {
    const secret = request.client_secret
    if (secret === undefined) {
      return Effect.fail(
        new ClientSecretLost({
          client_id: request.client_id,
          ...(duplicate.request_id === undefined ? {} : { request_id: duplicate.request_id }),
          ...(duplicate.attempts === undefined ? {} : { attempts: duplicate.attempts })
        })
      )
    }
    const proven: Effect.Effect<boolean> = generated
      ? Effect.succeed(true)
      : options.proveSecret === undefined
      ? Effect.succeed(false)
      : Effect.orElseSucceed(options.proveSecret(request.client_id, secret), () => false)
    return service.get({ client_id: request.client_id }).pipe(
      Effect.catchAll((error): Effect.Effect<never, CreateError> =>
        // A read-back that fails leaves the outcome unknown, whoever chose the id: the create may have
        // made the client. Its error names the client, so the caller repeats the create to find out.
        Effect.fail(error._tag !== "ClientNotFound" ? namingClient(error, request.client_id) : duplicate)
      ),
      Effect.flatMap((found) =>
        found.m2m_client.client_secret_last_four !== Redacted.value(secret).slice(-4)
          ? Effect.fail(duplicate)
          : Effect.flatMap(proven, (isProven) =>
            isProven
              ? Effect.succeed(
                new M2MClientsCreateResponse({
                  request_id: found.request_id,
                  status_code: found.status_code,
                  m2m_client: new M2MClientWithClientSecret({ ...found.m2m_client, client_secret: secret })
                })
              )
              : Effect.fail(duplicate))
      ),
      Effect.tap(() => Effect.annotateCurrentSpan("m2m.create.confirmed_after_lost_answer", true))
    )
  }

  /**
   * Every create is sent with a client id, the caller's or one generated here, so every create can be
   * repeated (a second attempt cannot make a second client: the id is taken) and recovered the same
   * way, and an error whose outcome is unknown names the id to repeat it with.
   */
  const create = (
    request: M2MClientsCreateRequest,
    encoded: unknown,
    span: Tracer.Span | undefined
  ): Effect.Effect<M2MClientsCreateResponse, CreateError> =>
    Effect.suspend(() => {
      const generated = request.client_id === undefined && options.generateClientId !== undefined
      const client_id = generated ? options.generateClientId!() : request.client_id
      const sent = generated ? { ...request, client_id } : request
      // A generated id holds to the id's rules by construction, and is the same in both forms.
      const sentEncoded = generated ? { ...(encoded as object), client_id } : encoded
      return send(
        Operations.create,
        sent,
        sentEncoded as typeof Operations.create.request.Encoded,
        client_id !== undefined,
        (error, anAttemptMayHaveActed): Failed<typeof Operations.create> => ({ error, anAttemptMayHaveActed }),
        span
      )
        .pipe(
          Effect.catchAll((failed) =>
            client_id === undefined
              ? Effect.fail(failed.error)
              : failed.error._tag === "DuplicateClientId" && failed.anAttemptMayHaveActed
              // The read-back and the proof are the create's own, under its span.
              ? withParentSpanIfAny(recoverCreate({ ...sent, client_id }, failed.error, generated), span)
              : Effect.fail(failed.anAttemptMayHaveActed ? namingClient(failed.error, client_id) : failed.error)
          )
        )
    })

  const service: M2MClients.Service = M2MClients.makeEncodedWithSpan({
    create,
    get: call(Operations.get, true),
    update: call(Operations.update, true),
    delete: call(Operations.delete, false),
    search: call(Operations.search, true),
    secrets: {
      rotateStart: call(Operations.rotateStart, false),
      rotateCancel: call(Operations.rotateCancel, false),
      rotate: call(Operations.rotate, false)
    }
  })
  return service
}
