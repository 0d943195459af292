import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc, Schema } from "effect"
import { M2MTokenClaims } from "../src/index.js"
import { isClaims } from "../src/internal/verifier.js"

// The verifier checks a token's claims by hand (see `isClaims`), and falls back to the schema for
// whatever the hand check refuses. The hand check must therefore accept nothing the schema refuses,
// and, to be worth having, accept what the schema accepts.
const accepted = (value: unknown) => Either.isRight(Schema.decodeUnknownEither(M2MTokenClaims)(value))

/** Objects with the claims' names, each holding any JSON value or missing. */
const claimLike = fc.record(
  {
    sub: fc.jsonValue(),
    iss: fc.jsonValue(),
    aud: fc.oneof(fc.jsonValue(), fc.array(fc.oneof(fc.string(), fc.jsonValue()))),
    scope: fc.jsonValue(),
    iat: fc.oneof(fc.jsonValue(), fc.double()),
    nbf: fc.oneof(fc.jsonValue(), fc.double()),
    exp: fc.oneof(fc.jsonValue(), fc.double()),
    user_id: fc.jsonValue()
  },
  { requiredKeys: [] }
)

describe("the verifier's hand check of the claims", () => {
  it("accepts nothing M2MTokenClaims refuses", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), claimLike), (value) => {
        if (isClaims(value)) expect(accepted(value)).toBe(true)
      }),
      { numRuns: 5_000 }
    )
  })

  it("accepts what M2MTokenClaims accepts, as JSON carries it", () => {
    const claims = Arbitrary.make(M2MTokenClaims).map((value) => JSON.parse(JSON.stringify(value)) as unknown)
    fc.assert(
      fc.property(claims, (value) => {
        expect(isClaims(value)).toBe(accepted(value))
      }),
      { numRuns: 2_000 }
    )
  })

  it.each([
    ["a lone audience", { sub: "c", iss: "i", aud: "p", iat: 1, exp: 2 }, true],
    ["no scope, no nbf", { sub: "c", iss: "i", aud: ["p"], iat: 1, exp: 2 }, true],
    ["a null scope", { sub: "c", iss: "i", aud: ["p"], scope: null, iat: 1, exp: 2 }, false],
    ["an audience holding a number", { sub: "c", iss: "i", aud: ["p", 1], iat: 1, exp: 2 }, false],
    ["exp as a string", { sub: "c", iss: "i", aud: ["p"], iat: 1, exp: "2" }, false],
    ["exp past what a date holds", { sub: "c", iss: "i", aud: ["p"], iat: 1, exp: 8.64e12 + 1 }, false],
    ["exp at the last date", { sub: "c", iss: "i", aud: ["p"], iat: 1, exp: 8.64e12 }, true],
    ["iat before the first date", { sub: "c", iss: "i", aud: ["p"], iat: -1e300, exp: 2 }, false],
    ["nbf of 1e300", { sub: "c", iss: "i", aud: ["p"], iat: 1, nbf: 1e300, exp: 2 }, false],
    ["no sub", { iss: "i", aud: ["p"], iat: 1, exp: 2 }, false],
    ["an array", [], false]
  ])("%s: %s", (_, value, expected) => {
    expect(isClaims(value)).toBe(expected)
    expect(accepted(value)).toBe(expected)
  })
})
