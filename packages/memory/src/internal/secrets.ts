/**
 * Client secrets: made from the operating system's cryptographic source, kept only as SHA-256 hashes,
 * and checked in constant time. Plain secrets pass through here on their way to the caller and are
 * never stored.
 */
import { Effect, Redacted } from "effect"
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto"

/** What the store keeps of a secret: enough to check one and to show its last four characters. */
export interface HashedSecret {
  readonly hash: Uint8Array
  readonly last_four: string
}

const sha256 = (secret: string): Uint8Array => createHash("sha256").update(secret, "utf8").digest()

export const hashSecret = (secret: Redacted.Redacted<string>): HashedSecret => {
  const plain = Redacted.value(secret)
  return { hash: sha256(plain), last_four: plain.slice(-4) }
}

/**
 * A new secret: 36 random bytes as base64url, 48 characters of 288 bits, about the length of the
 * secrets Stytch generates.
 */
export const generateSecret: Effect.Effect<Redacted.Redacted<string>> = Effect.sync(() =>
  Redacted.make(randomBytes(36).toString("base64url"))
)

/** A random UUID (v4) from the cryptographic source, for client and request ids. */
export const uuid: Effect.Effect<string> = Effect.sync(() => randomUUID())

/** Stands in for a missing hash, so checking a secret takes as long whether or not the client exists. */
const absent = sha256("")

/** Whether `presented` hashes to one of `hashes`. Every hash is compared, each in constant time. */
export const matchesAny = (
  hashes: ReadonlyArray<Uint8Array>,
  presented: Redacted.Redacted<string>
): boolean => {
  const candidate = sha256(Redacted.value(presented))
  let matched = false
  for (const hash of hashes.length === 0 ? [absent] : hashes) {
    if (timingSafeEqual(hash, candidate)) matched = true
  }
  return matched && hashes.length > 0
}
