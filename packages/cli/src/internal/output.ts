/**
 * How clients are shown: a table or a field list for people, one JSON object a line for scripts.
 *
 * A client's JSON view is built field by field from the fields that carry no secret, so a response
 * that holds one (create's `client_secret`, rotation start's `next_client_secret`) can be shown through
 * it without the secret; the two commands that exist to show a secret add it in a field of its own.
 */
import * as Ansi from "@effect/printer-ansi/Ansi"
import * as AnsiDoc from "@effect/printer-ansi/AnsiDoc"
import * as Doc from "@effect/printer/Doc"
import type { M2MClient } from "@stytch-effect/core"
import { Console, Effect, Redacted } from "effect"

/** The fields of a client that are safe to print. */
export type ClientView = {
  readonly client_id: string
  readonly client_name: string
  readonly client_description: string
  readonly status: string
  readonly scopes: ReadonlyArray<string>
  readonly client_secret_last_four: string
  readonly next_client_secret_last_four: string | null
  readonly trusted_metadata: unknown
}

export const clientView = (client: M2MClient): ClientView => ({
  client_id: client.client_id,
  client_name: client.client_name,
  client_description: client.client_description,
  status: client.status,
  scopes: client.scopes,
  client_secret_last_four: client.client_secret_last_four,
  next_client_secret_last_four: client.next_client_secret_last_four,
  trusted_metadata: client.trusted_metadata
})

/** One JSON object on one line of standard output. */
export const printJson = (value: unknown) => Console.log(JSON.stringify(value))

/** A secret, unwrapped for the one line of standard output that exists to show it. */
export const revealed = (secret: Redacted.Redacted<string>): string => Redacted.value(secret)

// Names, descriptions and metadata are anybody's text: a control character in one must not move the
// cursor or recolour the operator's terminal.

const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/g
const safe = (text: string) => text.replace(controlCharacters, "\uFFFD")

const colours = (): boolean => process.stdout.isTTY === true && !("NO_COLOR" in process.env)

const render = (doc: AnsiDoc.AnsiDoc): string =>
  colours()
    ? AnsiDoc.render(doc, { style: "pretty", options: { lineWidth: 1000 } })
    : Doc.render(Doc.unAnnotate(doc), { style: "pretty", options: { lineWidth: 1000 } })

const statusDoc = (status: string): AnsiDoc.AnsiDoc =>
  Doc.annotate(Doc.text(status), status === "active" ? Ansi.green : Ansi.yellow)

const secretsCell = (client: ClientView) =>
  `…${client.client_secret_last_four}` +
  (client.next_client_secret_last_four === null ? "" : ` (next …${client.next_client_secret_last_four})`)

const columns: ReadonlyArray<{
  readonly title: string
  readonly cell: (client: ClientView) => string
  readonly style?: (text: string) => AnsiDoc.AnsiDoc
}> = [
  { title: "CLIENT ID", cell: (client) => client.client_id },
  { title: "NAME", cell: (client) => client.client_name },
  { title: "STATUS", cell: (client) => client.status, style: statusDoc },
  { title: "SECRET", cell: secretsCell },
  { title: "SCOPES", cell: (client) => client.scopes.join(" ") }
]

/** The clients as a table, columns as wide as their widest cell. */
export const clientsTable = (clients: ReadonlyArray<ClientView>): string => {
  const cells = clients.map((client) => columns.map((column) => safe(column.cell(client))))
  const widths = columns.map((column, i) => Math.max(column.title.length, ...cells.map((row) => row[i]!.length)))
  const row = (docs: ReadonlyArray<AnsiDoc.AnsiDoc>) =>
    Doc.hsep(docs.map((doc, i) => i === docs.length - 1 ? doc : Doc.fill(doc, widths[i]!)))
  const header = row(columns.map((column) => Doc.annotate(Doc.text(column.title), Ansi.bold)))
  const rows = cells.map((texts) =>
    row(texts.map((text, i) => columns[i]!.style?.(text) ?? (text === "" ? Doc.empty : Doc.text(text))))
  )
  return render(Doc.vsep([header, ...rows]))
}

/** Named fields, one a line, the values aligned. */
export const fieldList = (fields: ReadonlyArray<readonly [string, AnsiDoc.AnsiDoc]>): string => {
  const width = Math.max(...fields.map(([name]) => name.length)) + 1
  return render(
    Doc.vsep(
      fields.map(([name, value]) => Doc.hsep([Doc.fill(Doc.annotate(Doc.text(`${name}:`), Ansi.bold), width), value]))
    )
  )
}

/** Anybody's text, as a field's value. */
export const textDoc = (text: string): AnsiDoc.AnsiDoc => Doc.text(safe(text))

/** One client as a list of its fields. */
export const clientDetails = (client: ClientView): string =>
  fieldList([
    ["client id", Doc.text(safe(client.client_id))],
    ["name", Doc.text(safe(client.client_name))],
    ["description", Doc.text(safe(client.client_description))],
    ["status", statusDoc(client.status)],
    ["scopes", Doc.text(safe(client.scopes.join(" ")))],
    ["secret", Doc.text(secretsCell(client))],
    ["metadata", Doc.text(safe(JSON.stringify(client.trusted_metadata)))]
  ])

/** A note for the operator, on standard error so that standard output stays data. */
export const note = (text: string) => Console.error(text)

/** Shows one client: its fields for people, or its JSON view with the response's request id. */
export const showClient = (
  response: { readonly request_id: string; readonly m2m_client: M2MClient },
  json: boolean
) =>
  json
    ? printJson({ request_id: response.request_id, client: clientView(response.m2m_client) })
    : Console.log(clientDetails(clientView(response.m2m_client)))

export const writeStderr = (text: string) => Effect.sync(() => void process.stderr.write(text))
