/**
 * Where our layer's time per `get` goes: a ladder from raw `undici.request` up to our layer over
 * `NodeHttpClient.layerUndici`, each rung adding one thing our layer does, timed like the contenders.
 * The rungs are built from public APIs (the platform's `HttpClient`, `Schema`), and from our layer's
 * per-attempt timeout, so the difference between rung 6 and our layer is what the rest of our own code
 * adds. Rungs 5 and 6 put the two timeouts side by side: the stock `Effect.timeoutFail`, and the one
 * watchdog fiber per service that our layer keeps instead. Rungs 3u, 6u and 8 repeat rungs 3, 6 and 7
 * over our own `UndiciHttpClient` instead of the platform's undici client; rung 7u puts rung 6u in the
 * operation's span, so that rung 8 over it is our own code alone.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { M2MClientsGetResponse } from "@stytch-effect/core"
import { UndiciHttpClient } from "@stytch-effect/http"
import { Duration, Effect, Exit, ManagedRuntime, Schema, Scope } from "effect"
import { Agent } from "undici"
// Internal to the http package, so reached by path: the benchmark times it alone, beside the stock one.
import * as Deadlines from "../../../http/dist/internal/deadlines.js"
import type { Contender } from "./contenders.js"
import { makeContenders } from "./contenders.js"
import type { EmulatorProcess } from "./emulatorProcess.js"

const decodeGet = Schema.decodeUnknown(M2MClientsGetResponse)

export const makeLadder = async (emulator: EmulatorProcess, clientId: string): Promise<ReadonlyArray<Contender>> => {
  const contenders = await makeContenders(emulator, clientId)
  const [, oursUndici, oursUndiciClient, rawUndici] = contenders
  const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
  // With the platform's span per request off, as our layer has it by default.
  const client = HttpClient.withTracerDisabledWhen(await runtime.runPromise(HttpClient.HttpClient), () => true)
  const ownRuntime = ManagedRuntime.make(UndiciHttpClient.layer)
  const ownClient = HttpClient.withTracerDisabledWhen(await ownRuntime.runPromise(HttpClient.HttpClient), () => true)
  const url = new URL(`${emulator.baseUrl}/v1/m2m/clients/${encodeURIComponent(clientId)}`)
  const request = HttpClientRequest.get(url).pipe(
    HttpClientRequest.basicAuth(emulator.projectId, emulator.secret),
    HttpClientRequest.acceptJson
  )
  // The least any interruptible Effect client over undici can cost: one fiber, one promise, and the
  // AbortSignal that interrupting it would fire.
  const agent = new Agent({ keepAliveTimeout: 60_000 })
  const floor = Effect.tryPromise((signal) =>
    agent.request({
      origin: url.origin,
      path: url.pathname,
      method: "GET",
      headers: request.headers,
      signal
    }).then((response) => response.body.text())
  )
  const transport = Effect.flatMap(client.execute(request), (response) => response.text)
  const decoded = Effect.flatMap(transport, (text) => decodeGet(JSON.parse(text)))
  const ownTransport = Effect.flatMap(ownClient.execute(request), (response) => response.text)
  const ownDecoded = Effect.flatMap(ownTransport, (text) => decodeGet(JSON.parse(text)))
  const timeout = Duration.seconds(30)
  const timed = decoded.pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const }))
  const deadlinesScope = await runtime.runPromise(Scope.make())
  const deadlines = await runtime.runPromise(Scope.extend(Deadlines.make(timeout), deadlinesScope))
  const watched = deadlines.limit(decoded, () => "timeout" as const)
  const ownWatched = deadlines.limit(ownDecoded, () => "timeout" as const)
  // The operation's span as our layer opens it: with the default tracer, a span is made and ended per call.
  const ownSpanned = Effect.useSpan(
    "M2MClients.get",
    { kind: "client", captureStackTrace: false, attributes: { "m2m.client_id": clientId } },
    () => ownWatched
  )
  const rung = (name: string, effect: Effect.Effect<M2MClientsGetResponse, unknown>): Contender => ({
    name,
    get: () => runtime.runPromise(effect).then((found) => found.m2m_client.client_id),
    close: () => Promise.resolve()
  })
  const parsed = (name: string, effect: Effect.Effect<string, unknown>): Contender => ({
    name,
    get: () =>
      runtime.runPromise(effect).then((text) =>
        (JSON.parse(text) as { m2m_client: { client_id: string } }).m2m_client.client_id
      ),
    close: () => Promise.resolve()
  })
  return [
    // Every contender made above is closed once, by the last rung.
    { ...rawUndici!, name: "1. raw `undici.request`, `JSON.parse`", close: () => Promise.resolve() },
    parsed("2. `Effect.tryPromise` around `undici.request` with an `AbortSignal`", floor),
    parsed(
      "3. `@effect/platform` `HttpClient` (`NodeHttpClient.layerUndici`, no request span): `execute`, `text`",
      transport
    ),
    rung("4. + decode with `M2MClientsGetResponse`", decoded),
    rung("5. rung 4 + `Effect.timeoutFail` (30 s): the stock timeout, which our layer does not use", timed),
    rung("6. rung 4 + our layer's timeout (30 s): one forked fiber per call, one watchdog in all", watched),
    { ...oursUndici!, name: "7. our layer (`NodeHttpClient.layerUndici`)", close: () => Promise.resolve() },
    parsed("3u. rung 3 over our `UndiciHttpClient` (no request span): `execute`, `text`", ownTransport),
    rung("6u. rung 6 over our `UndiciHttpClient`: decode and our layer's timeout", ownWatched),
    rung("7u. rung 6u in the operation's span (`Effect.useSpan`, the default tracer)", ownSpanned),
    {
      ...oursUndiciClient!,
      name: "8. our layer (`UndiciHttpClient`)",
      close: async () => {
        for (const contender of contenders) await contender.close()
        await runtime.runPromise(Scope.close(deadlinesScope, Exit.void))
        await agent.close()
        await ownRuntime.dispose()
        await runtime.dispose()
      }
    }
  ]
}
