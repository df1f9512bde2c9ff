// Browser code against a real server: two writers and a reader built on CoeditProvider (the code the editor
// will use), each with its own Y.Doc, over ws/workflows/<id>/doc/. backend/coedit/tests/test_browser_provider.py
// bundles this file (rolldown), runs it with Node's WebSocket and checks what it prints against the database.
// Arguments: <ws base> <workflow id> <writer token> <writer token> <reader token>.
import * as Y from "yjs";
import { documentFromDoc, setInput, setNodeLayout } from "../doc-model";
import { CoeditProvider, type BinarySocket, type Notice, type ProviderStatus } from "../provider";

const argv = (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const [base, workflowId, ...tokens] = argv as [string, string, string, string, string];

function join(token: string) {
  const notices: Notice[] = [];
  let resolveSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (resolveSynced = resolve));
  const provider = new CoeditProvider({
    workflowId: Number(workflowId),
    doc: new Y.Doc(),
    url: (path) => `${base}${path}?token=${token}`,
    factory: (url) => new WebSocket(url) as unknown as BinarySocket,
    onNotice: (notice) => notices.push(notice),
    onStatus: (status: ProviderStatus) => status === "synced" && resolveSynced(),
  });
  return { provider, notices, synced };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const clients = tokens.map(join);
await Promise.all(clients.map((client) => client.synced));
const [a, b, reader] = clients as [(typeof clients)[0], (typeof clients)[0], (typeof clients)[0]];
a.provider.awareness.setLocalState({ user: { id: 0, name: "claimed", color: "#e8590c" }, dragging: "1" });
setInput(a.provider.doc, "1", "text", "set by writer a");
setNodeLayout(b.provider.doc, "1", { x: 123, y: 45 });
setInput(b.provider.doc, "2", "text", "set by writer b");
setInput(reader.provider.doc, "2", "text", "set by the reader");
await sleep(1500);
const result = {
  documents: [a, b].map((client) => documentFromDoc(client.provider.doc)),
  reader: documentFromDoc(reader.provider.doc),
  can_write: clients.map((client) => client.provider.canWrite),
  reader_sees: [...reader.provider.awareness.getStates().values()],
};
for (const client of clients) client.provider.destroy();
console.log(JSON.stringify(result));
