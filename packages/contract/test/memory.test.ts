// The contract, run against the in-memory layer.
import { contractSuite } from "@stytch-effect/contract"
import { MemoryM2MClients } from "@stytch-effect/memory"

contractSuite("memory", () => MemoryM2MClients.layer())
