// Browser code on another origin calls the endpoint (CORS): a page served by a server of its
// own fetches the AWS API with an Authorization header (a preflighted request, as the AWS SDK
// for JavaScript sends) and reads the request id. Loopback only (scripts/test: `unshare -n`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const BIN = process.env.GLS_BIN;
const CHROMIUM = process.env.GLS_CHROMIUM || "/usr/bin/chromium";

let server;
let browser;
let pages;
let url;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "gls-cors-"));
  server = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
  url = (await lines.next()).value.trim().replace("listening on ", "");
  pages = createServer((req, res) => { res.writeHead(200, { "content-type": "text/html" }); res.end("<!doctype html><title>game</title>"); });
  await new Promise((r) => pages.listen(0, "127.0.0.1", r));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
});

after(async () => {
  if (browser) await browser.close();
  if (pages) pages.close();
  if (server) server.kill();
});

test("a page on another origin calls the API and reads its request id and errors", async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`http://localhost:${pages.address().port}/`); // another origin than 127.0.0.1:<port>
  const got = await page.evaluate(async (endpoint) => {
    const auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-west-2/gameliftstreams/aws4_request, SignedHeaders=host, Signature=0";
    const list = await fetch(`${endpoint}/streamgroups`, { headers: { Authorization: auth, "x-amz-date": "20261203T000000Z" } });
    const missing = await fetch(`${endpoint}/applications/a-000000000`, { headers: { Authorization: auth } });
    return {
      status: list.status, body: await list.json(), requestId: list.headers.get("x-amzn-RequestId"),
      errorStatus: missing.status, errorType: missing.headers.get("x-amzn-ErrorType"),
    };
  }, url);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.Items, []);
  assert.match(got.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(got.errorStatus, 404);
  assert.equal(got.errorType, "ResourceNotFoundException");
});
