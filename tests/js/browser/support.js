// What the browser tests share: waiting for a condition, bounded in time.

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
