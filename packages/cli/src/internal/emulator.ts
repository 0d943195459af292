/**
 * The throwaway emulator behind `--emulator`: started inside the process on loopback, seeded with a few
 * demo clients, gone when the command ends. Commands reach it over HTTP through the http layers, so it
 * shows exactly what Stytch would.
 *
 * Everything about it is fixed and public: the project id, the demo clients' secrets (each one's id
 * followed by `-secret`) and the key its tokens are signed with. So `token` works with a documented
 * secret, and a token one `--emulator` command printed verifies in another (`stytch-m2m --emulator token
 * ... | stytch-m2m --emulator verify`), each process having an emulator of its own. A fixed key also
 * spares every start an RSA key generation (seconds on a loaded machine). Nothing it signs is worth
 * anything elsewhere: no Stytch project serves this key, and its project id is no real one.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Emulator } from "@stytch-effect/emulator"
import { HttpM2MClients, HttpM2MTokens, HttpM2MTokenVerifier } from "@stytch-effect/http"
import { Duration, Effect, Layer, Redacted } from "effect"
import { createPrivateKey, createPublicKey } from "node:crypto"
import { note } from "./output.js"

/** The demo project's id. */
export const demoProjectId = "project-test-00000000-0000-4000-8000-00000000d3e0"

/** A demo client's secret, documented in the README and the emulator's note. */
export const demoSecretOf = (clientId: string): string => `${clientId}-secret`

/** The emulator's demo clients: fixed ids, so `clients get demo-billing-worker` works at once. */
export const demoClients = () =>
  [
    { client_id: "demo-billing-worker", client_name: "Billing worker", scopes: ["read:invoices", "write:invoices"] },
    { client_id: "demo-reports-reader", client_name: "Reports reader", scopes: ["read:invoices", "read:reports"] },
    {
      client_id: "demo-legacy-sync",
      client_name: "Legacy sync",
      client_description: "Retired; kept for its audit trail",
      status: "inactive" as const,
      scopes: ["read:customers"]
    }
  ].map((client) => ({ ...client, client_secret: Redacted.make(demoSecretOf(client.client_id)) }))

/** The demo signing key (PKCS #8, RSA 2048): public on purpose, see the module's comment. */
const demoSigningKeyPem = "-----BEGIN PRIVATE KEY-----\n" +
  "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC0DT3x/nUjSXZG6UROfwlKSrljKTb4rOl5OE1XQDHleJ9/g2E+" +
  "vdWLCf0plVF0noF0gdi/lMlMYO6qCx9Hz0Iqqgk5+JH9ioyuLJIclo+Y9KQSCzey+4q+YqYuz9u5EWxt7g0uIGS5jDBqiEBUk5S5" +
  "/u2QXHiCwCWIAoUH3JJ1eYxmEbsN6gGWiZ6o3wn/SD2MMv+d4bge/urB1D5ubwpAXdya3lWt6bMOkgUHibEcwNnSJJdW9+uFVzGu" +
  "TN7BrjDKzXCNOoBoaWDlH0uKP4RBFxFtgJs1j9XBOddtsXs7198XbVSJE4zUJqskSfPd/5cjV0tG7Wk7gY3v9wTkb6mpAgMBAAEC" +
  "ggEAEOefYHL6JNvXBuBhi+yB1EpWGUPQ3UyVcnlWoEcEMvMo0oGPe026g3PmzjqD69WdT5wzXAVzAutPl9ffJ3sDpNrTGUYdJYzB" +
  "GZymA+4flwZScz6Utlwcp4m+ku2Wx8ulfmAX4l6jO7KNsdWPaKwfOM6rwl6UPVPKEk4zlvc0KbhH4IvvWeUTwQUhjmJxdY9Agwyu" +
  "cYv/jG7WLRgh0EEgXG4jnIzTFDsUUHP21EwxHXBkerg3kLPtvMXs7Cw+UbmrRVAJbdiBbR12NB/sA+6Z23tB99MqpZtQwONM36XI" +
  "2JoIBRpvHRyGMdQ0QCtb62bbFfRb1CMuxUNR4gL/XAysewKBgQDmkhNkUOBJh3VAoflw/eFbuTcjWzqGyAfbxHFjcuKipcQY4gtI" +
  "TvRKaaytN+xwQMIFUzJoVCEB7gmVdorv4YY77M8mUcfB12pizWs3na4ngQWyfrIErb4zjicDKTvl/3ty10hnsZ4HCyYauDC1OUbU" +
  "yjIOpgYCj31qdVDXRmBIOwKBgQDH6NFHQvyn58SbrWfI8p3U9nUjWJ9sLauca6kBLGUOSlTdl5eJ1fDw+yT8few6vO/yKYfS0ZKu" +
  "9G9pqgSFhvMK5cZCY0CuyUqvj3Fy/V8JVGIpgI5fW8EWdIBgho40yYYJSBCc87W0rDdOOILjkSuDGKkgH2NqEKIT0m0KJcXbawKB" +
  "gDDDC97XS9fBEgcNOlevGY3wabzMemAuxZqwvNovXcbQD9zDUWeFaxyhpKctgI9s4puFsM9nm2NxGA3H+DIrG9xohJayDPDtwc4L" +
  "a3Vjn4UzQCUzripXJDZ7Bb0hZ02I7m6nIOTtJ2KN9Q0JjyOEbXprGJMIgZThC8EL9oDQnWQpAoGAdz/khzPob2iMGamJPY+sovsZ" +
  "ySn2f5uGwVpfiHmpFqs0kLL7DJf4kGfgGlYrcqZ+I+CuSw4FCCR7yXZIGDb2CEwkxjlavmkJCkzxCf0mkfQqUkODqlKbjf+VDP93" +
  "GPoV4LeCYX3nqI0KuLhxK7rPT/aH/Md8kCq35EckEGeT7V0CgYAjiG9m7sH8f63uwdjPyAfc/D7SypCGqei88SCwZuvVUz9jqYtB" +
  "zZsqyxDIYRwuAs+QznB66WhIKQ3PUepu0HCXYu7MbmkjloznBYRFuZ4cxT6LN08QlisgyYO16glivizUzrgVu8KeGfqZReE7u/qz" +
  "RgOEs5SA2ogsAtd4KZRbZw==" +
  "\n-----END PRIVATE KEY-----\n"

const demoSigningKey = () => {
  const privateKey = createPrivateKey(demoSigningKeyPem)
  const { e, kty, n } = createPublicKey(privateKey).export({ format: "jwk" })
  const kid = "jwk-test-stytch-m2m-demo"
  return { kid, jwk: { kty: kty!, use: "sig", key_ops: ["verify"], alg: "RS256", kid, n, e }, privateKey }
}

/** `M2MClients`, `M2MTokens` and `M2MTokenVerifier` over HTTP to an emulator that lives as long as the command. */
export const layer = Layer.unwrapEffect(
  Effect.gen(function*() {
    const { baseUrl, projectId, secret } = yield* Emulator
    yield* note(
      `Using a throwaway emulator at ${baseUrl} with ${demoClients().length} demo clients ` +
        `(each one's secret is its id followed by -secret); nothing is kept.`
    )
    return Layer.mergeAll(
      HttpM2MClients.layer({ projectId, secret, baseUrl }),
      HttpM2MTokens.layer({ projectId, baseUrl }),
      // One command a process: the keys are fetched for it, never refreshed in the background.
      HttpM2MTokenVerifier.layer({ projectId, baseUrl, refreshInterval: Duration.infinity })
    )
  })
).pipe(
  Layer.provide(
    Emulator.layerMemory({ projectId: demoProjectId, memory: { seed: demoClients(), signingKeys: [demoSigningKey()] } })
  ),
  Layer.provide(NodeHttpClient.layerUndici)
)
