// The verifier checks RS256 signatures with node:crypto instead of jose's compactVerify (see
// src/internal/jws.ts): every token here goes through both, and this module must refuse whatever
// jose refuses. Where it is stricter, the table says so.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { JSONWebKeySet } from "jose"
import { compactVerify, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, SignJWT } from "jose"
import type { KeyObject } from "node:crypto"
import { createPrivateKey, generateKeyPairSync, KeyObject as NodeKeyObject, sign as nodeSign } from "node:crypto"
import { isRs256Key, parseCompact, verifySignature } from "../src/internal/jws.js"
import { m2mClaims, signingKey } from "./signing.js"

const encode = (text: string | Uint8Array) => Buffer.from(text).toString("base64url")

/** A compact JWS signed by hand, so a test can put in the header what jose's signers refuse to. */
const signRaw = (header: Record<string, unknown>, payload: string, key: KeyObject, algorithm = "RSA-SHA256") => {
  const input = `${encode(JSON.stringify(header))}.${encode(payload)}`
  return `${input}.${encode(nodeSign(algorithm, Buffer.from(input), key))}`
}

const setup = Effect.gen(function*() {
  const current = yield* signingKey("jwk-test-current")
  const impostor = yield* signingKey("jwk-test-current", "impostor")
  // jose will not sign RS256 with a key this short; node:crypto will.
  const short = generateKeyPairSync("rsa", { modulusLength: 1024 })
  const shortJwk = { ...short.publicKey.export({ format: "jwk" }), kid: "jwk-test-short", alg: "RS256" }
  const keySet = { keys: [current.jwk, shortJwk] } as unknown as JSONWebKeySet
  const joseKeys = createLocalJWKSet(keySet)
  // The verifier's own key map: what jose imports, 2048-bit RSA only.
  const ourKeys = new Map<string, KeyObject>()
  for (const jwk of keySet.keys) {
    const key = yield* Effect.promise(() => importJWK(jwk, "RS256"))
    if (key instanceof NodeKeyObject && isRs256Key(key)) ourKeys.set(jwk.kid!, key)
  }
  const privateKey = createPrivateKey((current.privateKey as KeyObject).export({ format: "pem", type: "pkcs8" }))
  const claims = JSON.stringify(m2mClaims(1_800_000_000))
  const valid = yield* Effect.promise(() =>
    new SignJWT(m2mClaims(1_800_000_000)).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: current.kid })
      .sign(current.privateKey)
  )
  return { current, impostor, short, joseKeys, ourKeys, privateKey, claims, valid }
})

type Setup = Effect.Effect.Success<typeof setup>

const jose = (setup: Setup, token: string) =>
  Effect.promise(() =>
    compactVerify(token, setup.joseKeys, { algorithms: ["RS256"] }).then(() => "accepts", () => "refuses")
  )

const ours = (setup: Setup, token: string) =>
  Either.match(parseCompact(token), {
    onLeft: () => "refuses",
    onRight: (jws) => {
      const key = setup.ourKeys.get(jws.kid)
      return key !== undefined && verifySignature(jws, key) ? "accepts" : "refuses"
    }
  })

const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1)

const cases: ReadonlyArray<readonly [string, (setup: Setup) => Effect.Effect<string>, "accepts" | "refuses", string]> =
  [
    ["a token the key set's key signed", (s) => Effect.succeed(s.valid), "accepts", "accepts"],
    [
      "its crit naming b64, with b64: true",
      (s) =>
        Effect.succeed(
          signRaw({ alg: "RS256", kid: "jwk-test-current", crit: ["b64"], b64: true }, s.claims, s.privateKey)
        ),
      "accepts",
      "accepts"
    ],
    [
      "a tampered payload",
      (s) => {
        const [header, , signature] = s.valid.split(".")
        return Effect.succeed(
          `${header}.${encode(JSON.stringify(m2mClaims(1_800_000_000, { scope: "admin:*" })))}.${signature}`
        )
      },
      "refuses",
      "refuses"
    ],
    [
      "a tampered header",
      (s) => {
        const [, payload, signature] = s.valid.split(".")
        return Effect.succeed(
          `${encode(JSON.stringify({ alg: "RS256", kid: "jwk-test-current" }))}.${payload}.${signature}`
        )
      },
      "refuses",
      "refuses"
    ],
    ["a tampered signature", (s) => Effect.succeed(flip(s.valid, s.valid.length - 100)), "refuses", "refuses"],
    ["a truncated signature", (s) => Effect.succeed(s.valid.slice(0, -4)), "refuses", "refuses"],
    ["an empty signature", (s) => Effect.succeed(s.valid.slice(0, s.valid.lastIndexOf(".") + 1)), "refuses", "refuses"],
    [
      "alg none",
      (s) => Effect.succeed(`${encode(JSON.stringify({ alg: "none", kid: "jwk-test-current" }))}.${encode(s.claims)}.`),
      "refuses",
      "refuses"
    ],
    [
      "HS256 keyed with the public key (algorithm confusion)",
      (s) =>
        Effect.promise(() =>
          new SignJWT(m2mClaims(1_800_000_000)).setProtectedHeader({ alg: "HS256", kid: "jwk-test-current" })
            .sign(new TextEncoder().encode(JSON.stringify(s.current.jwk)))
        ),
      "refuses",
      "refuses"
    ],
    [
      "PS256 with the right key",
      (s) =>
        Effect.promise(() =>
          new SignJWT(m2mClaims(1_800_000_000)).setProtectedHeader({ alg: "PS256", kid: "jwk-test-current" })
            .sign(s.current.privateKey)
        ),
      "refuses",
      "refuses"
    ],
    [
      "signed by another key under the kid",
      (s) =>
        Effect.promise(() =>
          new SignJWT(m2mClaims(1_800_000_000)).setProtectedHeader({ alg: "RS256", kid: "jwk-test-current" })
            .sign(s.impostor.privateKey)
        ),
      "refuses",
      "refuses"
    ],
    [
      "a kid the key set lacks",
      (s) => Effect.succeed(signRaw({ alg: "RS256", kid: "jwk-test-forged" }, s.claims, s.privateKey)),
      "refuses",
      "refuses"
    ],
    [
      "a key of 1024 bits",
      (s) => Effect.succeed(signRaw({ alg: "RS256", kid: "jwk-test-short" }, s.claims, s.short.privateKey)),
      "refuses",
      "refuses"
    ],
    [
      "a header that is not base64url",
      (s) => Effect.succeed(`!!!.${s.valid.split(".").slice(1).join(".")}`),
      "refuses",
      "refuses"
    ],
    [
      "a header that is a JSON array",
      (s) => Effect.succeed(`${encode("[]")}.${s.valid.split(".").slice(1).join(".")}`),
      "refuses",
      "refuses"
    ],
    [
      "a header without alg",
      (s) => Effect.succeed(signRaw({ kid: "jwk-test-current" }, s.claims, s.privateKey)),
      "refuses",
      "refuses"
    ],
    [
      "crit naming an extension neither knows",
      (s) =>
        Effect.succeed(
          signRaw({ alg: "RS256", kid: "jwk-test-current", crit: ["exp"], exp: 1 }, s.claims, s.privateKey)
        ),
      "refuses",
      "refuses"
    ],
    [
      "crit naming b64, which the header lacks",
      (s) => Effect.succeed(signRaw({ alg: "RS256", kid: "jwk-test-current", crit: ["b64"] }, s.claims, s.privateKey)),
      "refuses",
      "refuses"
    ],
    [
      "an empty crit",
      (s) => Effect.succeed(signRaw({ alg: "RS256", kid: "jwk-test-current", crit: [] }, s.claims, s.privateKey)),
      "refuses",
      "refuses"
    ],
    [
      "an unencoded payload (b64: false), which jwtVerify refuses",
      (s) => {
        const header = encode(JSON.stringify({ alg: "RS256", kid: "jwk-test-current", crit: ["b64"], b64: false }))
        const input = `${header}.claims`
        return Effect.succeed(`${input}.${encode(nodeSign("RSA-SHA256", Buffer.from(input), s.privateKey))}`)
      },
      "accepts",
      "refuses"
    ],
    [
      "a stray character in the signature (jose skips it)",
      (s) => {
        const at = s.valid.length - 50
        return Effect.succeed(`${s.valid.slice(0, at)}*${s.valid.slice(at)}`)
      },
      "accepts",
      "refuses"
    ],
    ["base64 padding on the signature", (s) => Effect.succeed(`${s.valid}==`), "accepts", "refuses"],
    ["four segments", (s) => Effect.succeed(`${s.valid}.e30`), "refuses", "refuses"],
    ["two segments", (s) => Effect.succeed(s.valid.slice(0, s.valid.lastIndexOf("."))), "refuses", "refuses"],
    ["an empty string", () => Effect.succeed(""), "refuses", "refuses"]
  ]

describe("RS256 compact JWS with node:crypto, beside jose's compactVerify", () => {
  it.effect.each(cases)("%s", ([, token, byJose, byOurs]) =>
    Effect.gen(function*() {
      const keys = yield* setup
      const jws = yield* token(keys)
      expect({ jose: yield* jose(keys, jws), ours: ours(keys, jws) }).toEqual({ jose: byJose, ours: byOurs })
    }))

  it.effect("reads the header, kid and payload of an accepted token", () =>
    Effect.gen(function*() {
      const { valid } = yield* setup
      const jws = Either.getOrThrow(parseCompact(valid))
      expect(jws.kid).toBe("jwk-test-current")
      expect(jws.header).toEqual({ alg: "RS256", typ: "JWT", kid: "jwk-test-current" })
      expect(JSON.parse(jws.payload)).toEqual(m2mClaims(1_800_000_000))
    }))

  it.effect("says what is wrong, quoting no more than 40 characters of a header value", () =>
    Effect.gen(function*() {
      const { privateKey, claims } = yield* setup
      const alg = "x".repeat(100)
      expect(parseCompact(signRaw({ alg, kid: "k" }, claims, privateKey))).toEqual(
        Either.left(`the token is signed with "${"x".repeat(40)}"; only RS256 is accepted`)
      )
      expect(parseCompact("a.b")).toEqual(Either.left("not a JWT (three dot-separated parts)"))
    }))

  it.effect("keeps only RSA public keys of 2048 bits or more", () =>
    Effect.gen(function*() {
      const { current } = yield* setup
      const rsa2048 = yield* Effect.promise(() => importJWK(current.jwk, "RS256"))
      const ec = yield* Effect.promise(() =>
        generateKeyPair("ES256").then(({ publicKey }) => exportJWK(publicKey)).then((jwk) => importJWK(jwk, "ES256"))
      )
      const short = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey
      expect([rsa2048, ec, short].map((key) => key instanceof NodeKeyObject && isRs256Key(key))).toEqual([
        true,
        false,
        false
      ])
    }))
})
