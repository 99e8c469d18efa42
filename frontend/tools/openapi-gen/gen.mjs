// Writes src/generated/openapi.d.ts from the server's committed schema, docs/openapi.yaml.
// With --check it writes nothing and exits 1 when the committed file is not what the schema
// gives: `npm run build` runs that first, so a schema change the UI has not taken in fails the
// build before tsc runs against stale types.
import { readFileSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { COMMENT_HEADER, astToString } from "openapi-typescript";

const schemaUrl = new URL("../../../docs/openapi.yaml", import.meta.url);
const outUrl = new URL("../../src/generated/openapi.d.ts", import.meta.url);
const rel = (url) => relative(fileURLToPath(new URL("../../../", import.meta.url)), fileURLToPath(url));

const ast = await openapiTS(schemaUrl, {
  // A default fills in what a request leaves out; it does not make the field required there.
  defaultNonNullable: false,
  silent: true,
});
const generated = `${COMMENT_HEADER}${astToString(ast)}`;

if (!process.argv.includes("--check")) {
  writeFileSync(outUrl, generated, "utf8");
  console.log(`${rel(outUrl)} written from ${rel(schemaUrl)}`);
} else {
  let committed = "";
  try {
    committed = readFileSync(outUrl, "utf8");
  } catch {
    // missing: reported as stale below
  }
  if (committed !== generated) {
    const a = committed.split("\n");
    const b = generated.split("\n");
    let line = 0;
    while (line < a.length && line < b.length && a[line] === b[line]) line++;
    console.error(
      `${rel(outUrl)} is not what ${rel(schemaUrl)} generates (first difference at line ${line + 1}:\n` +
        `  committed: ${a[line] ?? "<end of file>"}\n  generated: ${b[line] ?? "<end of file>"}).\n` +
        "Run `npm run gen:api` in frontend/ (or `make openapi`), fix what tsc then reports, and commit both.",
    );
    process.exit(1);
  }
}
