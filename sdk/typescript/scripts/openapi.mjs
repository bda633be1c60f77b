// The SDK's types come from the server's OpenAPI document: this starts the real server, reads
// /openapi.json and turns it into src/openapi.ts with openapi-typescript.
//   node scripts/openapi.mjs write   regenerate src/openapi.ts
//   node scripts/openapi.mjs check   fail (exit 1) when src/openapi.ts is not what the server
//                                    documents now (CI runs this)

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import openapiTS, { astToString } from "openapi-typescript";

import { startServer } from "./server.mjs";

const HEADER =
  "// Generated from the server's /openapi.json by scripts/openapi.mjs (openapi-typescript).\n" +
  "// Do not edit: run `npm run generate` after changing the API; CI checks it is current.\n\n";

const mode = process.argv[2];
if (mode !== "write" && mode !== "check") {
  console.error("usage: node scripts/openapi.mjs write|check");
  process.exit(2);
}
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "openapi.ts");
const server = await startServer();
let document;
try {
  const answer = await fetch(`${server.base}/openapi.json`);
  document = await answer.json();
} finally {
  await server.stop();
}
const generated = HEADER + astToString(await openapiTS(document));
if (mode === "write") {
  writeFileSync(target, generated);
  console.log(`wrote ${target}`);
} else if (readFileSync(target, "utf8") !== generated) {
  console.error(
    "sdk/typescript/src/openapi.ts is not what the server documents now: run `npm run generate` in sdk/typescript and commit it",
  );
  process.exit(1);
} else {
  console.log("sdk/typescript/src/openapi.ts is current");
}
