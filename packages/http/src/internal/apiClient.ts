/**
 * The `HttpClient` every service of this package sends through: the app's client pointed at the API's
 * base URL, with the headers every request carries, no redirects followed and no platform span.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Option } from "effect"

export const apiClient = (
  baseUrl: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    // Redirects are never followed (see `isRedirect` in client.ts). Fetch reads its options from each
    // request's context, where they replace the app's own: so the app's are kept in them.
    const requestInit: globalThis.RequestInit = {
      ...Option.getOrUndefined(yield* Effect.serviceOption(FetchHttpClient.RequestInit)),
      redirect: "manual"
    }
    return (yield* HttpClient.HttpClient).pipe(
      // The headers are built once, by the caller, not per request.
      HttpClient.mapRequest((request) =>
        HttpClientRequest.setHeaders(HttpClientRequest.prependUrl(request, baseUrl), headers)
      ),
      HttpClient.transform((effect) => Effect.provideService(effect, FetchHttpClient.RequestInit, requestInit)),
      // The platform's own request span would hold the request (and its secrets); see `requestSpan` in
      // client.ts for the one we keep instead.
      HttpClient.withTracerDisabledWhen(() => true)
    )
  })
