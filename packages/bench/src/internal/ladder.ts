/**
 * Where our layer's time per `get` goes: a ladder from raw `undici.request` up to our layer over
 * `NodeHttpClient.layerUndici`, each rung adding one thing our layer does, timed like the contenders.
 * The rungs are built from public APIs (the platform's `HttpClient`, `Schema`, `Effect.timeoutFail`),
 * so the difference between the last built rung and our layer is what our own code adds on top.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { M2MClientsGetResponse } from "@stytch-effect/core"
import { Effect, ManagedRuntime, Schema } from "effect"
import type { Contender } from "./contenders.js"
import { makeContenders } from "./contenders.js"
import type { EmulatorProcess } from "./emulatorProcess.js"

const decodeGet = Schema.decodeUnknown(M2MClientsGetResponse)

export const makeLadder = async (emulator: EmulatorProcess, clientId: string): Promise<ReadonlyArray<Contender>> => {
  const contenders = await makeContenders(emulator, clientId)
  const [, oursUndici, rawUndici] = contenders
  const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
  const client = await runtime.runPromise(HttpClient.HttpClient)
  const request = HttpClientRequest.get(`${emulator.baseUrl}/v1/m2m/clients/${encodeURIComponent(clientId)}`).pipe(
    HttpClientRequest.basicAuth(emulator.projectId, emulator.secret),
    HttpClientRequest.acceptJson
  )
  const transport = Effect.flatMap(client.execute(request), (response) => response.text)
  const decoded = Effect.flatMap(transport, (text) => decodeGet(JSON.parse(text)))
  const timed = decoded.pipe(Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => "timeout" as const }))
  const rung = (name: string, effect: Effect.Effect<M2MClientsGetResponse, unknown>): Contender => ({
    name,
    get: () => runtime.runPromise(effect).then((found) => found.m2m_client.client_id),
    close: () => Promise.resolve()
  })
  const transportOnly: Contender = {
    name: "2. + `@effect/platform` `HttpClient` (`NodeHttpClient.layerUndici`): `execute`, `text`",
    get: () =>
      runtime.runPromise(transport).then((text) =>
        (JSON.parse(text) as { m2m_client: { client_id: string } }).m2m_client.client_id
      ),
    close: () => Promise.resolve()
  }
  return [
    // Every contender made above is closed once, by the last rung.
    { ...rawUndici!, name: "1. raw `undici.request`, `JSON.parse`", close: () => Promise.resolve() },
    transportOnly,
    rung("3. + decode with `M2MClientsGetResponse`", decoded),
    rung("4. + `Effect.timeoutFail` (30 s), as our layer has per attempt", timed),
    {
      ...oursUndici!,
      name: "5. our layer (`NodeHttpClient.layerUndici`)",
      close: async () => {
        for (const contender of contenders) await contender.close()
        await runtime.dispose()
      }
    }
  ]
}
