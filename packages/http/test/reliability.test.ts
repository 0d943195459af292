/**
 * What the layer promises under hostile conditions: no redirect is followed, an oversized request is
 * refused before it is sent, a failed attempt is no unhandled error, no secret reaches a tracer, a
 * logger or an error with every tracing option on, and a runtime nobody disposes does not hold its
 * process open after the last call.
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { M2MClients, maxRequestBodyBytes } from "@stytch-effect/core"
import { Emulator } from "@stytch-effect/emulator"
import { Cause, Effect, Exit, Layer, Logger, LogLevel, Redacted, Tracer } from "effect"
import { build } from "esbuild"
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { inspect } from "node:util"
import { HttpM2MClients } from "../src/index.js"
import type { Reply } from "./fakeStytch.js"
import { basicAuth, ok, projectSecret, runOnTestClock, stytchError, wireClient, withFake } from "./fakeStytch.js"
import { listen } from "./loopback.js"

const httpClients = [
  ["fetch", FetchHttpClient.layer],
  ["undici", NodeHttpClient.layerUndici]
] as const

describe("redirects", () => {
  it.live.each(
    [301, 302, 303, 307, 308].flatMap((status) => httpClients.map(([name, layer]) => ({ status, name, layer })))
  )(
    "a $status is a typed error naming the status, never followed, through $name",
    ({ layer, status }) =>
      Effect.gen(function*() {
        let elsewhere = 0
        // Another origin, which would answer a create as if it were Stytch.
        const other = yield* listen((_, response) => {
          elsewhere++
          response.writeHead(200, { "content-type": "application/json" })
          response.end(JSON.stringify({
            request_id: "r",
            status_code: 200,
            m2m_client: wireClient({ client_secret: "from-elsewhere-1234" })
          }))
        })
        const redirecting = yield* listen((_, response) => {
          response.writeHead(status, { location: `${other.url}/v1/m2m/clients` })
          response.end()
        })
        const error = yield* Effect.flip(Effect.flatMap(M2MClients, (clients) => clients.create({ scopes: [] }))).pipe(
          Effect.provide(
            HttpM2MClients.layer({
              projectId: "project-test-1",
              secret: Redacted.make("secret-test-1"),
              baseUrl: redirecting.url
            }).pipe(Layer.provide(layer))
          )
        )
        expect(error._tag).toBe("ApiError")
        expect(error._tag === "ApiError" && [error.status_code, error.error_type, error.attempts]).toStrictEqual([
          status,
          "unexpected_redirect",
          1
        ])
        expect(error.message).toContain(`HTTP ${status}`)
        expect(elsewhere).toBe(0)
      }).pipe(Effect.scoped)
  )
})

describe("request bodies", () => {
  it.effect(`over ${maxRequestBodyBytes} bytes are refused with InvalidRequest before anything is sent`, () =>
    withFake(() => ok({ m2m_client: wireClient() }), (clients, fake) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          clients.create({ scopes: [], client_id: "big", client_description: "x".repeat(maxRequestBodyBytes) })
        )
        expect(error._tag === "InvalidRequest" && error.rule).toBe(
          `must be at most ${maxRequestBodyBytes} bytes as JSON`
        )
        expect(fake.sent).toHaveLength(0)
      })))
})

/** Every line a Debug logger receives, with its cause. */
const captureLogs = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ cause, message }) => {
      lines.push(`${inspect(message, { depth: 20 })} ${Cause.isEmpty(cause) ? "" : Cause.pretty(cause)}`)
    })
    const exit = yield* Effect.exit(effect).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
    return { exit, lines }
  })

/** Every string reachable from `value` through own properties, array items and map entries. */
const strings = (value: unknown, out: Array<string> = [], seen = new Set<unknown>(), depth = 0): Array<string> => {
  if (typeof value === "string") out.push(value)
  if (typeof value !== "object" || value === null || seen.has(value) || depth > 20) return out
  seen.add(value)
  if (value instanceof Map) {
    for (const [key, item] of value) {
      strings(key, out, seen, depth + 1)
      strings(item, out, seen, depth + 1)
    }
  }
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    if (descriptor !== undefined && "value" in descriptor) strings(descriptor.value, out, seen, depth + 1)
  }
  return out
}

/** A tracer keeping everything it is handed: names, attributes, links, events and each span's exit. */
const capturingTracer = (base: Tracer.Tracer, seen: Array<unknown>) =>
  Tracer.make({
    context: base.context,
    span: (name, parent, context, links, startTime, kind, options) => {
      seen.push(name, links, options)
      const span = base.span(name, parent, context, links, startTime, kind, options)
      const { addLinks, attribute, end, event } = span
      return Object.assign(span, {
        attribute: (key: string, value: unknown) => {
          seen.push(key, value)
          attribute.call(span, key, value)
        },
        event: (name: string, startTime: bigint, attributes?: Record<string, unknown>) => {
          seen.push(name, attributes)
          event.call(span, name, startTime, attributes)
        },
        addLinks: (more: ReadonlyArray<Tracer.SpanLink>) => {
          seen.push(more)
          addLinks.call(span, more)
        },
        end: (endTime: bigint, exit: Exit.Exit<unknown, unknown>) => {
          seen.push(exit, inspect(exit, { depth: 20 }))
          end.call(span, endTime, exit)
        }
      })
    }
  })

describe("a failed attempt", () => {
  it.effect("that is retried logs nothing and adds no event to any span", () =>
    Effect.gen(function*() {
      const base = yield* Effect.tracer
      const seen: Array<unknown> = []
      const { exit, lines } = yield* captureLogs(
        runOnTestClock(
          withFake(
            (_, n) => n === 1 ? stytchError(503, "server_unavailable") : ok({ m2m_client: wireClient() }),
            (clients) => clients.get({ client_id: "a" })
          )
        ).pipe(Effect.withTracer(capturingTracer(base, seen)))
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(lines).toStrictEqual([])
      expect(strings(seen).filter((text) => text.includes("unhandled"))).toStrictEqual([])
    }))
})

describe("secrets, with request spans and trace propagation on", () => {
  const clientSecret = "Caller-Chosen-SECRET-7f3k9q"
  const generatedSecret = "Server-Made-SECRET-x8w2m4p"
  /** A server that echoes what it was sent: the headers and body, where a request id or message goes. */
  const echo = (status: number) => (request: { readonly headers: unknown; readonly body: unknown }): Reply => ({
    status,
    text: JSON.stringify({
      request_id: JSON.stringify(request.headers),
      status_code: status,
      error_type: "echo",
      error_message: JSON.stringify(request),
      echo: request
    })
  })
  const faults: ReadonlyArray<readonly [string, (request: { headers: unknown; body: unknown }, n: number) => Reply]> = [
    ["a 2XX echo", echo(200)],
    ["a 4XX echo", echo(400)],
    ["a 5XX echo", echo(500)],
    ["a dropped connection", () => "drop"],
    ["no answer", () => "hang"],
    ["a lost answer, then success", (_, n) =>
      n === 1
        ? "drop"
        : n === 2
        ? stytchError(409, "duplicate_m2m_client_id")
        : ok({ m2m_client: wireClient({ client_id: "billing", client_secret_last_four: "9q" }) })],
    ["success", () => ok({ m2m_client: wireClient({ client_id: "billing", client_secret: generatedSecret }) })]
  ]
  const secrets = [projectSecret, basicAuth.slice("Basic ".length), clientSecret, generatedSecret]
  /** Each secret's 8-character windows. */
  const parts = secrets.flatMap((secret) => Array.from({ length: secret.length - 7 }, (_, i) => secret.slice(i, i + 8)))

  it.effect.each(faults)(
    "never reach a tracer, a Debug logger or an error (%s)",
    ([, reply]) =>
      Effect.gen(function*() {
        const base = yield* Effect.tracer
        const seen: Array<unknown> = []
        const { exit, lines } = yield* captureLogs(
          runOnTestClock(
            withFake(
              reply,
              (clients) =>
                Effect.all([
                  clients.create({ scopes: ["a"], client_id: "billing", client_secret: Redacted.make(clientSecret) }),
                  clients.create({ scopes: ["a"] })
                ], { mode: "either" }),
              {
                requestSpans: true,
                tracerPropagation: true,
                retry: { times: 1, baseDelay: "1 millis" },
                timeout: "10 millis",
                proveSecret: () => Effect.succeed(true)
              }
            )
          ).pipe(Effect.withTracer(capturingTracer(base, seen)))
        )
        const errors = Exit.isSuccess(exit)
          ? exit.value.flatMap((result) => result._tag === "Left" ? [result.left] : [])
          : [Cause.squash(exit.cause)]
        const shown = [
          ...strings(seen),
          ...lines,
          ...errors.flatMap((error) => [
            String(error),
            (error as Error).message,
            JSON.stringify(error),
            inspect(error, { depth: 20 }),
            Cause.pretty(Cause.fail(error))
          ]),
          ...(Exit.isSuccess(exit) ? [inspect(exit.value, { depth: 20 }), JSON.stringify(exit.value)] : [])
        ].join("\n")
        expect(parts.filter((part) => shown.includes(part))).toStrictEqual([])
      })
  )
})

describe("a runtime nobody disposes", () => {
  it.live(
    "lets its process exit within 5 s of its last call, at the default 30 s timeout",
    () =>
      Effect.gen(function*() {
        const { baseUrl, projectId, secret } = yield* Emulator
        const script = join(mkdtempSync(join(tmpdir(), "open-runtime-")), "openRuntime.mjs")
        yield* Effect.promise(() =>
          build({
            entryPoints: [fileURLToPath(new URL("./fixtures/openRuntime.ts", import.meta.url))],
            outfile: script,
            bundle: true,
            platform: "node",
            format: "esm",
            conditions: ["@stytch-effect/source"],
            // Bundled CommonJS modules (undici) require Node's own modules.
            banner: {
              js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
            },
            logLevel: "silent"
          })
        )
        const started = Date.now()
        const { code, output } = yield* Effect.async<{ readonly code: number | null; readonly output: string }>(
          (resume) => {
            let output = ""
            const child = spawn(process.execPath, [script], {
              env: {
                ...process.env,
                EMULATOR_BASE_URL: baseUrl,
                EMULATOR_PROJECT_ID: projectId,
                EMULATOR_SECRET: Redacted.value(secret)
              },
              stdio: ["ignore", "pipe", "inherit"]
            })
            child.stdout.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
            // Past 15 s it would never be in time: stop waiting for the 30 s timeout.
            const guard = setTimeout(() => child.kill("SIGKILL"), 15_000)
            child.once("exit", (code) => {
              clearTimeout(guard)
              resume(Effect.succeed({ code, output }))
            })
            return Effect.sync(() => child.kill("SIGKILL"))
          }
        )
        expect(output.trim()).toBe("ClientNotFound")
        expect(code).toBe(0)
        expect(Date.now() - started).toBeLessThan(5_000)
      }).pipe(Effect.provide(Emulator.layerMemory())),
    20_000
  )
})
