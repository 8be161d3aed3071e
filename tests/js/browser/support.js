// What the browser tests share: waiting for a condition, bounded in time, and Chromium's flags.

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
