/**
 * Pending TCP connects under per-attempt timeouts and caller interrupts, over undici: 3,000 gets at 32
 * in flight, each attempt limited to 30 ms, against one emulator that this load keeps busy, so many
 * attempts are abandoned. Over undici's `Agent` (`NodeHttpClient.layerUndici`, bounded or not) a request
 * abandoned before it is written still destroys the socket it waited for, an aborted one is requeued and
 * reconnected for, and a pool with no connected socket is forgotten by the `Agent` with its connects
 * still pending, out of `destroy()`'s reach. `UndiciHttpClient` owns one pool per origin, refuses an
 * abandoned request without destroying its socket, bounds connections (32 by default) and aborts every
 * pending connect when its layer closes: see its module.
 * Pending connects are `ConnectWrap` in `process.getActiveResourcesInfo()`. `BENCH=storm` runs only this.
 */
import type { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { M2MClients } from "@stytch-effect/core"
import { HttpM2MClients, UndiciHttpClient } from "@stytch-effect/http"
import { Effect, Fiber, Layer, ManagedRuntime, Redacted } from "effect"
import { Agent } from "undici"
import { startStandalone } from "./internal/emulatorProcess.js"
import { publish } from "./internal/report.js"

const calls = 3000
const inFlight = 32
const timeout = "30 millis"

const pendingConnects = () => process.getActiveResourcesInfo().filter((name) => name === "ConnectWrap").length

interface Figures {
  readonly peak: number
  readonly afterRun: number
  readonly afterClose: number
  readonly seconds: number
}

/** The README's recommendation: undici with its connections per origin bounded. */
const boundedUndici = NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
  Layer.provide(
    Layer.scoped(
      NodeHttpClient.Dispatcher,
      Effect.acquireRelease(
        Effect.sync(() => new Agent({ connections: inFlight })),
        (agent) => Effect.promise(() => agent.destroy())
      )
    )
  )
)

const measure = async (httpClient: Layer.Layer<HttpClient.HttpClient>, interrupting: boolean): Promise<Figures> => {
  const emulator = await startStandalone()
  try {
    const runtime = ManagedRuntime.make(
      HttpM2MClients.layer({
        projectId: emulator.projectId,
        secret: Redacted.make(emulator.secret),
        baseUrl: emulator.baseUrl,
        timeout,
        retry: { times: 1, baseDelay: "1 millis" }
      }).pipe(Layer.provide(httpClient))
    )
    const clients = await runtime.runPromise(M2MClients)
    let peak = 0
    const sampler = setInterval(() => peak = Math.max(peak, pendingConnects()), 2)
    const started = performance.now()
    const get = clients.get({ client_id: "m2m-client-test-storm" }).pipe(Effect.ignore)
    // Interrupted from outside at about the attempt's own timeout, as a caller's own deadline would.
    const one = interrupting
      ? Effect.flatMap(Effect.fork(get), (fiber) => Effect.zipRight(Effect.sleep("25 millis"), Fiber.interrupt(fiber)))
      : get
    await runtime.runPromise(
      Effect.forEach(Array.from({ length: calls }), () => one, { concurrency: inFlight, discard: true })
    )
    const seconds = (performance.now() - started) / 1000
    await new Promise((resolve) => setTimeout(resolve, 300))
    const afterRun = pendingConnects()
    clearInterval(sampler)
    await runtime.dispose()
    await new Promise((resolve) => setTimeout(resolve, 50))
    return { peak, afterRun, afterClose: pendingConnects(), seconds }
  } finally {
    await emulator.stop()
  }
}

export const run = async (): Promise<string> => {
  const rows = [
    ["`layerUndici`, attempts time out", await measure(NodeHttpClient.layerUndici, false)],
    ["`layerUndici`, callers interrupt at 25 ms", await measure(NodeHttpClient.layerUndici, true)],
    [`\`Agent({ connections: ${inFlight} })\`, attempts time out`, await measure(boundedUndici, false)],
    [`\`Agent({ connections: ${inFlight} })\`, callers interrupt at 25 ms`, await measure(boundedUndici, true)],
    ["`UndiciHttpClient.layer`, attempts time out", await measure(UndiciHttpClient.layer, false)],
    ["`UndiciHttpClient.layer`, callers interrupt at 25 ms", await measure(UndiciHttpClient.layer, true)],
    [
      `\`UndiciHttpClient.layerWith({ connections: ${2 * inFlight} })\`, attempts time out`,
      await measure(UndiciHttpClient.layerWith({ connections: 2 * inFlight }), false)
    ],
    [
      `\`UndiciHttpClient.layerWith({ connections: ${2 * inFlight} })\`, callers interrupt at 25 ms`,
      await measure(UndiciHttpClient.layerWith({ connections: 2 * inFlight }), true)
    ]
  ] as const
  const row = (name: string, figures: Figures) =>
    `| ${name} | ${figures.peak} | ${figures.afterRun} | ${figures.afterClose} | ${figures.seconds.toFixed(2)} |`
  return publish(
    "storm",
    [
      `### storm: ${calls} gets at ${inFlight} in flight, ${timeout} per attempt, over undici`,
      "",
      "| run | peak pending connects | pending 300 ms after the run | pending after the layer closed | run (s) |",
      "| --- | ---: | ---: | ---: | ---: |",
      ...rows.map(([name, figures]) => row(name, figures)),
      "",
      `Method: a fresh emulator in a child process per row, retries on (1 retry, 1 ms apart); pending connects are the \`TCPConnectWrap\` handles ` +
      `of this process, sampled every 2 ms. Target: the peak within a small multiple of ${inFlight}, ` +
      "and none once the layer's scope has closed."
    ].join("\n")
  )
}
