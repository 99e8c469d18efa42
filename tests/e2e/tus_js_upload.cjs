// Uploads a file with tus-js-client's Node build, as any tus client would, outside the console's
// own frontend code: node tests/e2e/tus_js_upload.cjs <endpoint> <token> <file> <chunk bytes>
// Prints one JSON line: {"url", "patches", "offsets"} on success; exits 1 with the error otherwise.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

// The copy the frontend bundles (frontend/package.json), so the test runs the version shipped.
const tus = require(path.resolve(__dirname, "../../frontend/node_modules/tus-js-client"));

const [endpoint, token, file, chunk] = process.argv.slice(2);
const offsets = [];

const upload = new tus.Upload(fs.readFileSync(file), {
  endpoint,
  headers: { Authorization: `Token ${token}` },
  metadata: { filename: path.basename(file), filetype: "text/csv" },
  chunkSize: Number(chunk),
  retryDelays: [200, 1000],
  onBeforeRequest(req) {
    if (req.getMethod() === "PATCH") offsets.push(Number(req.getHeader("Upload-Offset")));
  },
  onSuccess() {
    process.stdout.write(`${JSON.stringify({ url: upload.url, patches: offsets.length, offsets })}\n`);
  },
  onError(err) {
    const res = err.originalResponse;
    process.stderr.write(`${err.message}${res ? ` [${res.getStatus()}] ${res.getBody()}` : ""}\n`);
    process.exit(1);
  },
});
upload.start();
