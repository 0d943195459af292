import { describe, expect, it } from "@effect/vitest"
import { Effect, Inspectable, Logger, Option, Redacted, Schema, Tracer } from "effect"
import { inspect } from "node:util"
import type { M2MClientsCreateRequest } from "../src/index.js"
import {
  ClientNotFound,
  fromApiErrorFields,
  M2MClients,
  M2MClientsCreateResponse,
  M2MClientsSecretsRotateStartResponse,
  Operations
} from "../src/index.js"

const SECRET = "s3cret-value-that-must-never-show"
const NEXT_SECRET = "n3xt-secret-that-must-never-show"

const client = {
  client_id: "m2m-client-test-1",
  client_name: "worker",
  client_description: "",
  status: "active",
  scopes: ["read"],
  client_secret_last_four: "show",
  next_client_secret_last_four: null,
  trusted_metadata: {}
}
const created = Schema.decodeUnknownSync(M2MClientsCreateResponse)({
  request_id: "request-id-test-1",
  status_code: 200,
  m2m_client: { ...client, client_secret: SECRET }
})
const rotating = Schema.decodeUnknownSync(M2MClientsSecretsRotateStartResponse)({
  request_id: "request-id-test-2",
  status_code: 200,
  m2m_client: { ...client, next_client_secret_last_four: "show", next_client_secret: NEXT_SECRET }
})

/** An implementation that records what reached it and the span it ran in. */
const recording = () => {
  const seen: Array<{ request: unknown; span: string | undefined; attributes: unknown }> = []
  const record = <A>(answer: A) => (request: unknown) =>
    Effect.gen(function*() {
      const span = yield* Effect.currentSpan.pipe(Effect.option)
      seen.push({
        request,
        span: Option.getOrUndefined(Option.map(span, (s) => s.name)),
        attributes: Option.getOrUndefined(Option.map(span, (s) => Object.fromEntries(s.attributes)))
      })
      return answer
    })
  const notFound = fromApiErrorFields({
    status_code: 404,
    error_type: "m2m_client_not_found",
    error_message: "The m2m client requested could not be found."
  }, Operations.get.errors) as ClientNotFound
  const service = M2MClients.make({
    create: record(created),
    get: () => Effect.fail(notFound),
    update: record(created as never),
    delete: record(created as never),
    search: record(created as never),
    secrets: {
      rotateStart: record(rotating),
      rotateCancel: record(created as never),
      rotate: record(created as never)
    }
  })
  return { seen, service }
}

describe("M2MClients.make", () => {
  it.effect("validates the request before the implementation sees it", () =>
    Effect.gen(function*() {
      const { seen, service } = recording()
      const error = yield* Effect.flip(service.create({ scopes: ["two words"] }))
      expect(error._tag).toBe("InvalidRequest")
      expect(seen).toEqual([])
    }))

  it.effect("runs each call in a span named after its method, with the client id, under the app's tracer", () =>
    Effect.gen(function*() {
      const { seen, service } = recording()
      // Any tracer of the app's own: here Effect's, wrapped.
      const native = yield* Effect.tracer
      const tracer = Tracer.make({ span: (...args) => native.span(...args), context: native.context })
      yield* Effect.withTracer(
        Effect.zipRight(
          service.create({ scopes: ["read"], client_id: "c-1", client_secret: Redacted.make(SECRET) }),
          service.secrets.rotateStart({ client_id: "c-1" })
        ),
        tracer
      )
      expect(seen.map(({ attributes, span }) => [span, attributes])).toEqual([
        ["M2MClients.create", { "m2m.client_id": "c-1" }],
        ["M2MClients.secrets.rotateStart", { "m2m.client_id": "c-1" }]
      ])
    }))

  it.effect("makes no span under Effect's own tracer, whose spans nobody sees", () =>
    Effect.gen(function*() {
      const { seen, service } = recording()
      yield* service.secrets.rotateStart({ client_id: "c-1" })
      yield* Effect.withSpan(service.secrets.rotateStart({ client_id: "c-1" }), "caller")
      expect(seen.map(({ span }) => span)).toEqual([undefined, "caller"])
    }))

  it.effect("keeps the implementation's typed errors, catchable by tag", () =>
    Effect.gen(function*() {
      const { service } = recording()
      const answer = yield* service.get({ client_id: "missing" }).pipe(
        Effect.catchTag("ClientNotFound", (error) => Effect.succeed(`caught ${error.error_type}`))
      )
      expect(answer).toBe("caught m2m_client_not_found")
    }))
})

describe("no secret shows", () => {
  const request: M2MClientsCreateRequest = { scopes: ["read"], client_secret: Redacted.make(SECRET) }
  const values = { created, rotating, request }

  it.each(Object.entries(values))("in %s printed any way", (_, value) => {
    const shown = [
      String(value),
      JSON.stringify(value),
      inspect(value, { depth: 10 }),
      Inspectable.format(value),
      Inspectable.toStringUnknown(value)
    ].join("\n")
    expect(shown).not.toContain(SECRET)
    expect(shown).not.toContain(NEXT_SECRET)
    expect(shown).toContain("<redacted>")
  })

  it.effect("in logs, whatever the logger", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = (logger: Logger.Logger<unknown, unknown>) =>
        Logger.map(logger, (line) => lines.push(typeof line === "string" ? line : JSON.stringify(line)))
      const loggers = [Logger.logfmtLogger, Logger.jsonLogger, Logger.stringLogger, Logger.structuredLogger]
      for (const logger of loggers) {
        yield* Effect.log("created", created, rotating, request).pipe(
          Effect.annotateLogs("response", created),
          Effect.provide(Logger.replace(Logger.defaultLogger, capture(logger)))
        )
      }
      expect(lines).toHaveLength(loggers.length)
      for (const line of lines) {
        expect(line).not.toContain(SECRET)
        expect(line).not.toContain(NEXT_SECRET)
      }
    }))

  it.effect("in the errors of a failed call", () =>
    Effect.gen(function*() {
      const { service } = recording()
      const error = yield* Effect.flip(service.create({ scopes: [], client_secret: Redacted.make("short") }))
      const shown = [String(error), JSON.stringify(error), inspect(error), error.message].join("\n")
      expect(shown).not.toContain("short")
    }))
})
