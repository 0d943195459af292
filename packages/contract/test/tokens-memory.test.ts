// The token contract, run against the in-memory layer, its key set read from its SigningKeys.
import { generateSigningKey, MemoryM2MClients, SigningKeys } from "@stytch-effect/memory"
import { Effect, Layer } from "effect"
import { TokenFixture, tokenSuite } from "../src/index.js"

// Generated once for the file (about 100 ms each); each store takes the first, and the second on rotation.
const signingKeys = await Effect.runPromise(Effect.all([generateSigningKey(), generateSigningKey()]))
const projectId = "project-test-6c20cd16-73d5-44f7-852c-9a7e7b2ccf62"

tokenSuite("memory", () =>
  Layer.provideMerge(
    Layer.effect(
      TokenFixture,
      Effect.map(SigningKeys, (keys) => ({ projectId, jwks: keys.jwks, rotateKeys: keys.rotate }))
    ),
    MemoryM2MClients.layer({ projectId, signingKeys })
  ))
