/**
 * The `M2MTokenVerifier` of `@stytch-effect/core` over the project's key set, fetched from Stytch
 * (`GET /v1/sessions/jwks/{project_id}`) with the app's `HttpClient`, so the app's transport, proxy
 * and tracing settings apply (jose's remote key set would use its own `https`).
 *
 * ```ts
 * const VerifierLive = HttpM2MTokenVerifier.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * It needs only the project id and, for a custom domain, the base URL: the key set is public, and a
 * verifier holds no secret. The keys are fetched when the layer is built (in the background: building
 * does not wait), refreshed every 5 minutes in the background, refetched for an unknown `kid` at most
 * once per 30 seconds, and the last good ones serve for 24 hours through an outage.
 */
import type { HttpClientError } from "@effect/platform"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import type { JwksAnswer as JwksAnswerType } from "@stytch-effect/core"
import { Jwk, JwksAnswer, jwksRoute, KeysUnavailable, M2MTokenVerifier, projectPath } from "@stytch-effect/core"
import type { Cause, ParseResult, Scope } from "effect"
import { Config, ConfigError, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import { userAgent } from "./HttpM2MClients.js"
import { apiClient } from "./internal/apiClient.js"
import { projectOrigin, resolveBaseUrl } from "./internal/baseUrl.js"

export interface Options {
  readonly projectId: string
  /**
   * A custom domain (or the emulator): the key set is fetched from it, and tokens it issued (`iss` its
   * origin) are accepted beside `stytch.com/{projectId}`. Only scheme, host and port are kept;
   * `http://` only for loopback hosts. Default: Stytch's live or test API by the project id.
   */
  readonly baseUrl?: string | undefined
  /** A key set to start with (tests, cold starts): no verification waits for the first fetch. */
  readonly keys?: JwksAnswerType | undefined
  /** Each key-set fetch's limit. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Allowed clock skew by default. Default 5 seconds. */
  readonly clockTolerance?: Duration.DurationInput | undefined
  /** How often the keys are refetched in the background. Default 5 minutes. */
  readonly refreshInterval?: Duration.DurationInput | undefined
  /** The least time between fetches for an unknown `kid` or after a failure. Default 30 seconds. */
  readonly cooldown?: Duration.DurationInput | undefined
  /** How long the last good keys serve through an outage. Default 24 hours. */
  readonly maxKeysAge?: Duration.DurationInput | undefined
  /** How many verified tokens to keep. Default 10,000; 0 turns the cache off. */
  readonly cacheSize?: number | undefined
}

/** The options besides the project id and base URL, which `layerConfig` reads from the environment. */
export type LayerConfigOptions = Omit<Options, "projectId" | "baseUrl">

const describeFailure = (
  error: HttpClientError.HttpClientError | ParseResult.ParseError | Cause.TimeoutException,
  timeout: Duration.Duration
): string => {
  switch (error._tag) {
    case "ResponseError":
      return error.reason === "StatusCode"
        ? `the key set answered HTTP ${error.response.status}`
        : "the key set's answer is not a JWKS"
    case "RequestError":
      return "the key set could not be reached"
    case "TimeoutException":
      return `the key set did not answer within ${Duration.format(timeout)}`
    case "ParseError":
      return "the key set's answer is not a JWKS"
  }
}

/**
 * A key set whose keys are read one by one: a key that is not a JWK (null, a numeric `kid`) is left
 * out like one of an unknown `kty`, instead of making the whole set, its good keys too, unusable.
 */
const LenientJwks = Schema.transform(
  Schema.Struct({ ...JwksAnswer.fields, keys: Schema.Array(Schema.Unknown) }),
  Schema.typeSchema(JwksAnswer),
  {
    strict: true,
    decode: (answer) => ({ ...answer, keys: answer.keys.filter(Schema.is(Jwk)) }),
    encode: (answer) => answer
  }
)

/**
 * The key set at `path` over `client` (one made by `apiClient`: the base URL, our headers, no redirect
 * followed, so keys never come from another origin): a 2XX JSON JWKS, or `KeysUnavailable` saying what
 * came back instead (a status, a redirect, no connection, no answer in time, a body that is not a key set).
 */
export const fetchKeys = (
  client: HttpClient.HttpClient,
  path: string,
  timeout: Duration.Duration
): M2MTokenVerifier.KeySource => {
  const request = HttpClientRequest.get(path)
  // The key set is Stytch's, not ours to trace into: no trace headers.
  const ok = client.pipe(HttpClient.filterStatusOk, HttpClient.withTracerPropagation(false))
  return ok.execute(request).pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(LenientJwks)),
    Effect.scoped,
    Effect.timeout(timeout),
    Effect.mapError((error) => new KeysUnavailable({ reason: describeFailure(error, timeout) }))
  )
}

/**
 * The verifier over the `HttpClient` in context. An empty `projectId` or a bad `baseUrl` fails with a
 * `ConfigError` naming the option. The scope holds the background refresh.
 */
export const make = (
  options: Options
): Effect.Effect<M2MTokenVerifier.Service, ConfigError.ConfigError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const baseUrl = yield* projectOrigin(options)
    const client = yield* apiClient(baseUrl, { accept: "application/json", "user-agent": userAgent })
    const timeout = Duration.decode(options.timeout ?? "10 seconds")
    return yield* M2MTokenVerifier.make({
      projectId: options.projectId,
      issuers: options.baseUrl === undefined ? [] : [baseUrl],
      fetchKeys: fetchKeys(client, projectPath(jwksRoute, options.projectId), timeout),
      keys: options.keys,
      clockTolerance: options.clockTolerance,
      refreshInterval: options.refreshInterval,
      cooldown: options.cooldown,
      maxKeysAge: options.maxKeysAge,
      cacheSize: options.cacheSize
    })
  })

export const layer = (
  options: Options
): Layer.Layer<M2MTokenVerifier, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(M2MTokenVerifier, make(options))

/**
 * The project from `STYTCH_PROJECT_ID` and the optional `STYTCH_BASE_URL` (the same variables as
 * `HttpM2MClients.layerConfig`); no secret is read.
 */
export const config: Config.Config<Pick<Options, "projectId" | "baseUrl">> = Config.all({
  projectId: Config.nonEmptyString("STYTCH_PROJECT_ID"),
  baseUrl: Config.option(Config.nonEmptyString("STYTCH_BASE_URL")).pipe(
    Config.mapOrFail(Option.match({
      onNone: () => Either.right(undefined),
      onSome: (url) =>
        Either.match(resolveBaseUrl("", url), {
          onLeft: (rule) =>
            Either.left(ConfigError.InvalidData(["STYTCH_BASE_URL"], `Expected a base URL that ${rule}`)),
          onRight: () => Either.right(url)
        })
    }))
  )
})

/** `layer` with the project id and base URL read by `config`. */
export const layerConfig = (
  options: LayerConfigOptions = {}
): Layer.Layer<M2MTokenVerifier, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(M2MTokenVerifier, Effect.flatMap(config, (project) => make({ ...options, ...project })))
