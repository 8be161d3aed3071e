// What the browser tests share: waiting for a condition, bounded in time, Chromium's flags, and
// the Web SDK-shaped client page served from an origin of its own.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Serve client.html on a free port of 127.0.0.1: { url, close }.
export async function servePage() {
  const html = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "client.html"));
  const server = createServer((req, res) => { res.writeHead(200, { "content-type": "text/html" }); res.end(html); });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/client.html`, close: () => server.close() };
}

// The flags STREAMING.md names for a loopback-only namespace, and the usual headless ones.
export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
  "--disable-quic",
];

// Poll `f` every `every` ms until it returns something truthy (returned), or fail after `ms`.
export async function until(what, f, ms = 15000, every = 100) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await f();
    if (last) return last;
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}
