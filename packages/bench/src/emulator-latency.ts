/**
 * How long the emulator takes to answer one request, next to a raw `node:http` server and a minimal
 * `@effect/platform` app (an `HttpRouter` on `NodeHttpServer` answering a JSON body), so a slow answer
 * can be put down to the platform or to the emulator. Each server runs in a process of its own, as the
 * standalone emulator does, and a raw undici loop asks them in turn, one request at a time, in rounds,
 * so that load from elsewhere on the machine falls on all of them alike. Next to each p50 is the
 * server's own CPU time per request: on loopback the two move together, which says the server computes
 * rather than waits.
 *
 * Not in `main.ts`: run it with `node packages/bench/dist/emulator-latency.js` after a build.
 */
import { HttpMiddleware, HttpRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Emulator } from "@stytch-effect/emulator"
import { Effect, Redacted } from "effect"
import type { ChildProcess } from "node:child_process"
import { fork } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { request } from "undici"

const servers = ["raw", "platform", "platform-untraced", "emulator"] as const
type ServerKind = typeof servers[number]

const projectId = "project-test-bench"
const secret = "secret-test-bench-0123456789"
const rounds = 8
const perRound = 300

const answer = { client_id: "x", status: "active", scopes: ["a"] }

const platformApp = HttpRouter.empty.pipe(
  HttpRouter.get("/v1/m2m/clients/:client_id", HttpServerResponse.unsafeJson(answer))
)

/** Serves `kind` in this process for good; tells the parent the port, and its CPU time when asked. */
const serveHere = (kind: ServerKind) => {
  const send = (message: unknown) => process.send!(message)
  process.on("message", () => send({ cpu: process.cpuUsage() }))
  if (kind === "raw") {
    const server = createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(answer))
      })
    })
    return server.listen(0, "127.0.0.1", () => send({ port: (server.address() as AddressInfo).port }))
  }
  const program = kind === "emulator"
    ? Effect.flatMap(Emulator, (emulator) => Effect.sync(() => send({ port: Number(new URL(emulator.baseUrl).port) })))
      .pipe(
        Effect.zipRight(Effect.never),
        Effect.provide(Emulator.layerMemory({ projectId, secret: Redacted.make(secret) }))
      )
    : Effect.gen(function*() {
      const server = yield* NodeHttpServer.make(() => createServer(), { host: "127.0.0.1", port: 0 })
      yield* kind === "platform-untraced"
        ? server.serve(platformApp).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true))
        : server.serve(platformApp)
      send({ port: (server.address as { readonly port: number }).port })
    })
  return Effect.runFork(Effect.scoped(Effect.zipRight(program, Effect.never)))
}

interface Child {
  readonly process: ChildProcess
  readonly port: number
  readonly cpuMillis: () => Promise<number>
}

const start = (kind: ServerKind): Promise<Child> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, BENCH_SERVE: kind } })
    child.once("error", reject)
    child.once("message", (message) => {
      const port = (message as { readonly port: number }).port
      const cpuMillis = () =>
        new Promise<number>((done) => {
          child.once("message", (reply) => {
            const { system, user } = (reply as { readonly cpu: NodeJS.CpuUsage }).cpu
            done((system + user) / 1000)
          })
          child.send("cpu")
        })
      resolve({ process: child, port, cpuMillis })
    })
  })

const authorization = `Basic ${Buffer.from(`${projectId}:${secret}`).toString("base64")}`

interface Target {
  readonly label: string
  readonly server: ServerKind
  readonly send: (port: number, i: number) => ReturnType<typeof request>
}

const get = (auth: string) => (port: number) =>
  request(`http://127.0.0.1:${port}/v1/m2m/clients/x`, { headers: { authorization: auth } })

const create = (client_id: string) => (port: number) =>
  request(`http://127.0.0.1:${port}/v1/m2m/clients`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ client_id, scopes: ["a"] })
  })

const targets: ReadonlyArray<Target> = [
  { label: "raw node:http, GET", server: "raw", send: get(authorization) },
  { label: "minimal platform app, GET", server: "platform", send: get(authorization) },
  { label: "minimal platform app, no server span, GET", server: "platform-untraced", send: get(authorization) },
  { label: "emulator, GET /v1/m2m/clients/x", server: "emulator", send: get(authorization) },
  { label: "emulator, 401 (wrong credentials)", server: "emulator", send: get("Basic eDp5") },
  { label: "emulator, POST create", server: "emulator", send: (port, i) => create(`bench-${i}`)(port) }
]

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[values.length >> 1]!

export const run = async (): Promise<string> => {
  const children = new Map<ServerKind, Child>()
  for (const kind of servers) children.set(kind, await start(kind))
  try {
    const emulator = children.get("emulator")!
    await (await create("x")(emulator.port)).body.text()
    const p50s = targets.map(() => [] as Array<number>)
    const cpus = targets.map(() => [] as Array<number>)
    let sent = 0
    for (let round = -1; round < rounds; round++) {
      for (const [t, target] of targets.entries()) {
        const child = children.get(target.server)!
        const cpuBefore = await child.cpuMillis()
        const times: Array<number> = []
        for (let i = 0; i < perRound; i++) {
          const started = performance.now()
          await (await target.send(child.port, sent++)).body.text()
          times.push(performance.now() - started)
        }
        // Round -1 warms every server and the client up; it is not counted.
        if (round < 0) continue
        cpus[t]!.push(((await child.cpuMillis()) - cpuBefore) / perRound)
        p50s[t]!.push(median(times))
      }
    }
    const table = [
      "## emulator latency: one request at a time on loopback, raw undici client",
      "",
      `Node ${process.version}, each server in its own process, measured in one run: median over ${rounds} rounds`,
      `of each round's p50 (${perRound} requests a round, the servers taken in turn).`,
      "",
      "| server, request | p50 | server CPU per request |",
      "| --- | --- | --- |",
      ...targets.map((target, t) =>
        `| ${target.label} | ${median(p50s[t]!).toFixed(3)} ms | ${median(cpus[t]!).toFixed(3)} ms |`
      )
    ].join("\n")
    console.log(table)
    await writeFile(new URL("../results/emulator-latency.md", import.meta.url), `${table}\n`)
    return table
  } finally {
    for (const child of children.values()) child.process.kill()
  }
}

const serving = process.env["BENCH_SERVE"] as ServerKind | undefined
if (serving !== undefined) serveHere(serving)
else if (process.argv[1] === fileURLToPath(import.meta.url)) await run()
