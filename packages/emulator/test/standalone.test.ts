/**
 * The standalone emulator's settings (flag over environment over default) and its life cycle: it
 * listens where asked and, when its scope closes, stops at once, even with a request in flight.
 */
import { FetchHttpClient, HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { M2MClients } from "@stytch-effect/core"
import { MemoryM2MClients } from "@stytch-effect/memory"
import { ConfigProvider, Deferred, Duration, Effect, Either, Exit, Fiber, Layer, Option, Redacted, Scope } from "effect"
import { make } from "../src/index.js"
import { describeServeError, exitCodes, parseFlags, readStandaloneOptions, usage } from "../src/internal/cli.js"

const withEnvironment = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("standalone settings", () => {
  it.effect("default to port 4455 on 127.0.0.1 with generated credentials and no faults", () =>
    Effect.gen(function*() {
      const options = yield* readStandaloneOptions([]).pipe(withEnvironment({}))
      expect(options).toEqual({
        port: 4455,
        host: "127.0.0.1",
        projectId: Option.none(),
        secret: Option.none(),
        faults: {}
      })
    }))

  it.effect.each([
    { case: "the environment alone", argv: [], env: { STYTCH_EMULATOR_PORT: "5000" }, port: 5000 },
    { case: "a flag alone", argv: ["--port", "6000"], env: {}, port: 6000 },
    { case: "a flag over the environment", argv: ["--port=7000"], env: { STYTCH_EMULATOR_PORT: "5000" }, port: 7000 },
    { case: "port 0, any free port", argv: ["--port", "0"], env: {}, port: 0 }
  ])("take the port from $case", ({ argv, env, port }) =>
    Effect.gen(function*() {
      expect((yield* readStandaloneOptions(argv).pipe(withEnvironment(env))).port).toBe(port)
    }))

  it.effect("read credentials and a JSON fault plan from the environment, the secret as Redacted", () =>
    Effect.gen(function*() {
      const options = yield* readStandaloneOptions(["--project-id", "project-test-local"]).pipe(withEnvironment({
        STYTCH_EMULATOR_SECRET: "local-secret",
        STYTCH_EMULATOR_FAULTS:
          "{\"all\":{\"latency\":25},\"routes\":{\"create\":{\"fail\":{\"share\":0.1,\"status\":503}}}}"
      }))
      expect(options.projectId).toEqual(Option.some("project-test-local"))
      expect(Option.map(options.secret, Redacted.value)).toEqual(Option.some("local-secret"))
      expect(String(options.secret)).not.toContain("local-secret")
      expect(options.faults).toEqual({
        all: { latency: Duration.millis(25) },
        routes: { create: { fail: { share: 0.1, status: 503 } } }
      })
    }))

  it.effect.each([
    {
      case: "a port that is not a number, naming the flag",
      argv: ["--port", "http"],
      env: {},
      message: "--port: Expected an integer value but received \"http\""
    },
    {
      case: "a port out of range, naming the flag",
      argv: ["--port", "70000"],
      env: {},
      message: "--port: Expected a port from 0 to 65535"
    },
    {
      case: "a bad port from the environment, naming the variable",
      argv: [],
      env: { STYTCH_EMULATOR_PORT: "abc" },
      message: "STYTCH_EMULATOR_PORT: Expected an integer value but received \"abc\""
    },
    {
      case: "a fault plan that is not one, naming the flag and the field",
      argv: ["--faults", "{\"all\":{\"fail\":{\"share\":2}}}"],
      env: {},
      message: "--faults: not a fault plan: all.fail.share: must be a share from 0 to 1"
    },
    {
      case: "two bad settings, one line each",
      argv: ["--port=-1", "--faults", "{"],
      env: {},
      message: "--port: Expected a port from 0 to 65535\n--faults: not a fault plan: "
    }
  ])("refuse $case", ({ argv, env, message }) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(readStandaloneOptions(argv).pipe(withEnvironment(env)))
      expect(error._tag).toBe("UsageError")
      expect(error.message.startsWith(message)).toBe(true)
    }))

  it.each([
    { argv: ["--colour", "red"], message: "Unknown argument: --colour" },
    { argv: ["4455"], message: "Unknown argument: 4455" },
    { argv: ["--port"], message: "--port needs a value" },
    { argv: ["--secret=hunter2"], message: "Unknown argument: --secret=hunter2" }
  ])("refuse the arguments $argv: $message", ({ argv, message }) => {
    const parsed = parseFlags(argv)
    expect(Either.isLeft(parsed) && parsed.left.message).toBe(message)
  })
})

describe("life cycle", () => {
  it.live("a port already taken is one line that says so, and the exit code for it", () =>
    Effect.gen(function*() {
      const first = yield* make()
      const port = Number(new URL(first.baseUrl).port)
      const error = yield* Effect.flip(make({ port }))
      const line = describeServeError(error, "127.0.0.1", port)
      expect(line).toBe(
        `Port ${port} on 127.0.0.1 is already in use: stop what holds it, or choose another with --port (0 picks a free one).`
      )
      expect(exitCodes.cannotListen).toBe(3)
      expect(usage).toContain("3 could not listen")
    }).pipe(Effect.scoped, Effect.provide(MemoryM2MClients.layer())))

  it.live("listens on the port asked for, and stops at once when its scope closes, mid-request", () =>
    Effect.gen(function*() {
      const store = yield* MemoryM2MClients.make()
      const held = yield* Deferred.make<void>()
      // A store whose get never answers: the request stays in flight until the server stops.
      const holding = Layer.succeedContext(MemoryM2MClients.toContext({
        ...store,
        clients: { ...store.clients, get: () => Effect.zipRight(Deferred.succeed(held, undefined), Effect.never) }
      }))
      const scope = yield* Scope.make()
      const emulator = yield* make().pipe(Effect.provide(holding), Scope.extend(scope))
      expect(Number(new URL(emulator.baseUrl).port)).toBeGreaterThan(0)
      const client = yield* HttpClient.HttpClient
      const inFlight = yield* Effect.fork(client.get(`${emulator.baseUrl}/v1/m2m/clients/held`, {
        headers: { authorization: `Basic ${btoa(`${emulator.projectId}:${Redacted.value(emulator.secret)}`)}` }
      }))
      yield* Deferred.await(held)
      const [closing] = yield* Effect.timed(Scope.close(scope, Exit.void))
      expect(Duration.toMillis(closing)).toBeLessThan(5_000)
      expect((yield* Fiber.await(inFlight))._tag).toBe("Failure")
      const after = yield* Effect.either(client.get(`${emulator.baseUrl}/v1/m2m/clients/held`))
      expect(after._tag).toBe("Left")
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.live("serves the store it is given, the same one the test holds", () =>
    Effect.gen(function*() {
      const emulator = yield* make({ port: 0, projectId: "project-live-x", secret: Redacted.make("live-secret") })
      const clients = yield* M2MClients
      const created = yield* clients.create({ scopes: ["a"] })
      const client = yield* HttpClient.HttpClient
      const response = yield* client.get(`${emulator.baseUrl}/v1/m2m/clients/${created.m2m_client.client_id}`, {
        headers: { authorization: `Basic ${btoa("project-live-x:live-secret")}` }
      })
      const body: any = yield* response.json
      expect(body.m2m_client.client_id).toBe(created.m2m_client.client_id)
      expect(body.request_id).toMatch(/^request-id-live-/)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(MemoryM2MClients.layer({ projectId: "project-live-x" }), FetchHttpClient.layer))
    ))
})
