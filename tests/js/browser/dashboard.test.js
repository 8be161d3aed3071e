// The dashboard in a real browser: Debian's headless Chromium, driven by playwright-core,
// opens /_local/ui on a seeded server (frozen clock); what it shows and what its buttons do
// are checked through the AWS SDK for JavaScript. Loopback only (scripts/test: `unshare -n`).
// Screenshots at 1280×800 and 400 px wide go to $GLS_ARTIFACTS (default target/test-artifacts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { until } from "./support.js";
import {
  GameLiftStreamsClient,
  GetStreamSessionCommand,
  ListStreamGroupsCommand,
  ListApplicationsCommand,
  StartStreamSessionCommand,
  TerminateStreamSessionCommand,
  paginateListStreamSessionsByAccount,
} from "@aws-sdk/client-gameliftstreams";

const BIN = process.env.GLS_BIN;
const CHROMIUM = process.env.GLS_CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = process.env.GLS_ARTIFACTS || "target/test-artifacts";
const SESSIONS = 230;
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

let server;
let browser;
let url;
let client;

async function allSessions(filter = {}) {
  const out = [];
  for await (const page of paginateListStreamSessionsByAccount({ client, pageSize: 100 }, filter)) out.push(...page.Items);
  return out;
}

const countBy = (items, key) => items.reduce((m, s) => ({ ...m, [key(s)]: (m[key(s)] || 0) + 1 }), {});

async function openDashboard(width = 1280, height = 800) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${url}/_local/ui`);
  await page.locator("#status-chart .bar").first().waitFor();
  await page.locator("#sessions tbody tr").first().waitFor();
  return { page, errors };
}

// Load pages until the session's row is on screen.
async function showRow(page, arn) {
  const row = page.locator(`#sessions tbody tr[data-arn="${arn}"]`);
  for (let i = 0; i < 20 && (await row.count()) === 0; i++) {
    const before = await page.locator("#sessions tbody tr").count();
    await page.locator("#more").click();
    await until("another page", async () => (await page.locator("#sessions tbody tr").count()) > before);
  }
  // On screen (the refresh re-reads the rows on screen); a row the refresh just redrew is
  // found again.
  for (let i = 0; ; i++) {
    try {
      await row.scrollIntoViewIfNeeded({ timeout: 2000 });
      break;
    } catch (err) {
      if (i >= 3) throw err;
    }
  }
  return row;
}

// Press "Load more" until every session is shown.
async function loadAll(page) {
  while (await page.locator("#more").isVisible()) {
    const before = await page.locator("#sessions tbody tr").count();
    await page.locator("#more").click();
    await until("another page", async () => (await page.locator("#sessions tbody tr").count()) > before);
  }
}

const shownArns = (page) => page.locator("#sessions tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.arn));

// Show the session's row and open its drawer.
async function openRow(page, arn) {
  await (await showRow(page, arn)).click();
  await until("the drawer's fields", async () =>
    (await page.locator('#fields dd[data-field="Arn"]').textContent().catch(() => "")) === arn);
}

// Move the service clock (the admin API).
async function advance(seconds) {
  const r = await fetch(`${url}/_local/clock`, { method: "POST", body: JSON.stringify({ advanceSeconds: seconds }) });
  assert.equal(r.status, 200);
}

const rowStatus = (page, id) => page.locator(`#sessions tbody tr[data-arn$="/${id}"] td.status`).textContent();

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "gls-ui-"));
  execFileSync(BIN, ["seed", "--data-dir", dir, "--sessions", String(SESSIONS)]);
  server = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--clock", "frozen"],
    { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
  const first = (await lines.next()).value;
  assert.match(first, /^listening on http:\/\/127\.0\.0\.1:\d+$/);
  url = first.trim().replace("listening on ", "");
  client = new GameLiftStreamsClient({
    endpoint: url, region: "us-west-2", maxAttempts: 1,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill();
});

test("the dashboard shows the seeded counts, filters and pages through every session", async () => {
  const { page, errors } = await openDashboard();
  const sessions = await allSessions();
  assert.equal(sessions.length, SESSIONS);
  const byStatus = countBy(sessions, (s) => s.Status);
  for (const [status, n] of Object.entries(byStatus)) {
    assert.equal(await page.locator(`#status-chart .bar[data-key="${status}"] .n`).textContent(), String(n), status);
  }
  assert.equal(await page.locator("#status-chart .bar").count(), Object.keys(byStatus).length);
  const byExport = countBy(sessions, (s) => (s.ExportFilesMetadata && s.ExportFilesMetadata.Status) || "NONE");
  for (const [status, n] of Object.entries(byExport)) {
    assert.equal(await page.locator(`#export-chart .bar[data-key="${status}"] .n`).textContent(), String(n), status);
  }
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-1280.png"), fullPage: true });

  // "Load more" pages through all of them, in the API's order (oldest first), no repeats.
  assert.equal(await page.locator("#sessions tbody tr").count(), 25);
  await loadAll(page);
  const shown = await shownArns(page);
  assert.equal(shown.length, SESSIONS);
  assert.equal(new Set(shown).size, SESSIONS);
  assert.deepEqual(shown, sessions.map((s) => s.Arn));

  // A filter shows exactly what the API lists for it, and the CLI line says the same.
  await page.locator("#filter-status").selectOption("TERMINATED");
  await until("the filtered page", async () =>
    (await page.locator("#sessions tbody td.status").allTextContents()).every((t) => t === "TERMINATED"));
  await loadAll(page);
  assert.equal(await page.locator("#sessions tbody tr").count(), byStatus.TERMINATED);
  assert.match(await page.locator("#cli").textContent(), /list-stream-sessions-by-account .*--status TERMINATED/);
  assert.deepEqual(errors, []);
});

test("changes made elsewhere appear without a reload; the drawer's actions and the clock drive sessions", async () => {
  const { page, errors } = await openDashboard();
  const sessions = await allSessions();
  const byId = (s) => s.Arn.split("/").pop();
  const groupOf = (s) => s.Arn.split("/").slice(-2, -1)[0];

  // Through the API, the page notices within 3 s (no reload: the same document throughout).
  const marker = await page.evaluate(() => { window.__same = Math.random(); return window.__same; });
  const connected = sessions.find((s) => s.Status === "CONNECTED");
  const active = sessions.find((s) => s !== connected && ["ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION"].includes(s.Status));
  await showRow(page, active.Arn);
  await client.send(new TerminateStreamSessionCommand({ Identifier: groupOf(active), StreamSessionIdentifier: active.Arn }));
  const after = await client.send(new GetStreamSessionCommand({ Identifier: groupOf(active), StreamSessionIdentifier: active.Arn }));
  await until("the terminated session on screen", async () =>
    (await page.locator(`#sessions tbody tr[data-arn="${active.Arn}"] td.status`).textContent().catch(() => "")) === after.Status, 3000);
  assert.equal(await page.evaluate(() => window.__same), marker);

  // An injected fault from the drawer ends another live session in ERROR.
  const live = sessions.find((s) => s !== connected && s !== active && ["ACTIVE", "CONNECTED"].includes(s.Status));
  await openRow(page, live.Arn);
  await page.locator("#fault-reason").selectOption("internalError");
  await page.locator("#inject").click();
  await until("ERROR through the API", async () => {
    const got = await client.send(new GetStreamSessionCommand({ Identifier: groupOf(live), StreamSessionIdentifier: live.Arn }));
    return got.Status === "ERROR" && got.StatusReason === "internalError";
  });

  // The drawer: a connected session's client disconnects, then an hour passes on the clock
  // panel and the session times out waiting for its client, on screen (the newest connected
  // session: the furthest from its maximum length).
  await openRow(page, connected.Arn);
  await page.locator('#drawer [data-event="clientDisconnected"]').click();
  await until("PENDING_CLIENT_RECONNECTION through the API", async () => {
    const got = await client.send(new GetStreamSessionCommand({ Identifier: groupOf(connected), StreamSessionIdentifier: connected.Arn }));
    return got.Status === "PENDING_CLIENT_RECONNECTION";
  });
  await until("PENDING_CLIENT_RECONNECTION on screen", async () =>
    (await rowStatus(page, byId(connected)).catch(() => "")) === "PENDING_CLIENT_RECONNECTION");
  const clockBefore = await page.locator("#now").textContent();
  await page.locator('[data-advance="3600"]').click();
  await until("the clock moved", async () => (await page.locator("#now").textContent()) !== clockBefore);
  const ended = await client.send(new GetStreamSessionCommand({ Identifier: groupOf(connected), StreamSessionIdentifier: connected.Arn }));
  assert.equal(ended.Status, "TERMINATED");
  assert.equal(ended.StatusReason, "reconnectionTimeout");
  await until("the timed-out session on screen", async () => (await rowStatus(page, byId(connected)).catch(() => "")) === "TERMINATED");
  await until("the drawer shows it ended", async () =>
    (await page.locator('#fields dd[data-field="Status"]').textContent().catch(() => "")) === "TERMINATED");

  // Stream groups show their locations' capacity.
  assert.ok(await page.locator("#groups .group .capacity").count() >= 1);
  assert.ok(await page.locator("#apps tbody tr").count() >= 1);
  assert.deepEqual(errors, []);
});

test("the drawer takes a session through its life: connect, input, export, terminate, archive", async () => {
  const { page, errors } = await openDashboard();
  const group = (await client.send(new ListStreamGroupsCommand({}))).Items[0];
  const app = (await client.send(new ListApplicationsCommand({}))).Items[0];
  const started = await client.send(new StartStreamSessionCommand({
    Identifier: group.Id, ApplicationIdentifier: app.Arn, Protocol: "WebRTC", SignalRequest: "NO_CLIENT_CONNECTION",
  }));
  const get = () => client.send(new GetStreamSessionCommand({ Identifier: group.Id, StreamSessionIdentifier: started.Arn }));
  await page.locator('[data-advance="60"]').click(); // placement, on the frozen clock
  await until("ACTIVE", async () => (await get()).Status === "ACTIVE");
  await openRow(page, started.Arn);
  await until("ACTIVE in the drawer", async () =>
    (await page.locator('#fields dd[data-field="Status"]').textContent().catch(() => "")) === "ACTIVE");
  assert.ok(await page.locator("#watch").isVisible(), "a live session can be watched");
  assert.equal(await page.locator("#watch").getAttribute("href"), `/_local/play/${encodeURIComponent(started.Arn)}`);

  await page.locator('#drawer [data-event="clientConnected"]').click();
  await until("CONNECTED", async () => (await get()).Status === "CONNECTED");
  const before = (await get()).LastUpdatedAt;
  await page.locator('[data-advance="60"]').click();
  await page.locator('#drawer [data-event="userInput"]').click();
  await until("input recorded", async () => (await get()).LastUpdatedAt > before);
  await page.locator("#export-uri").fill("s3://dashboard-exports/run/");
  await page.locator("#export").click();
  await until("PENDING export", async () => ((await get()).ExportFilesMetadata || {}).Status === "PENDING");
  await page.locator("#terminate").click();
  await until("TERMINATING", async () => ["TERMINATING", "TERMINATED"].includes((await get()).Status));
  await page.locator('[data-advance="60"]').click();
  const ended = await until("TERMINATED with its export", async () => {
    const got = await get();
    return got.Status === "TERMINATED" && (got.ExportFilesMetadata || {}).Status === "SUCCEEDED" && got;
  });
  assert.equal(ended.StatusReason, "apiTerminated");
  await until("the archive link", async () => page.locator("#archive").isVisible());
  const archive = await page.request.get(url + (await page.locator("#archive").getAttribute("href")));
  assert.equal(archive.status(), 200);
  assert.equal(archive.headers()["content-type"], "application/zip");
  const bytes = await archive.body();
  assert.equal(bytes.subarray(0, 2).toString(), "PK");
  assert.ok(!(await page.locator("#watch").isVisible()), "an ended session cannot be watched");
  assert.deepEqual(errors, []);
});

test("a refresh that lands after \"Load more\" keeps every row loaded", async () => {
  const { page, errors } = await openDashboard();
  // Reads of the first page (what a refresh re-reads) answer 800 ms late.
  let delayed = 0;
  let inFlight = false;
  await page.route((u) => u.pathname === "/streamsessions" && !u.searchParams.has("NextToken"), async (route) => {
    delayed += 1;
    inFlight = true;
    await new Promise((r) => setTimeout(r, 800));
    inFlight = false;
    await route.continue();
  });
  await until("a refresh in flight", async () => inFlight, 10000, 5);
  await page.locator("#more").click();
  await until("125 rows", async () => (await page.locator("#sessions tbody tr").count()) === 125);
  const seen = delayed;
  await until("two more refreshes", async () => delayed >= seen + 2 && !inFlight, 15000);
  await new Promise((r) => setTimeout(r, 300));
  const shown = await shownArns(page);
  assert.equal(shown.length, 125);
  assert.equal(new Set(shown).size, 125);
  assert.deepEqual(shown, (await allSessions()).slice(0, 125).map((s) => s.Arn));
  assert.ok(await page.locator("#more").isVisible(), "more is still there to load");
  assert.match(await page.locator("#sessions-caption").textContent(), /^125 shown, more to load$/);
  assert.deepEqual(errors, []);
});

test("a refresh re-reads the rows on screen, not every row loaded", async () => {
  const { page, errors } = await openDashboard();
  await loadAll(page);
  assert.equal(await page.locator("#sessions tbody tr").count(), (await allSessions()).length);
  const log = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname === "/_local/counts") log.push("tick");
    if (u.pathname === "/streamsessions") log.push(u.searchParams.has("NextToken") ? "page" : "first");
  });
  // The reads of one whole refresh: what lies between two ticks.
  const cycle = async () => {
    const start = log.length;
    await until("two refreshes", async () => log.slice(start).filter((x) => x === "tick").length >= 3, 15000);
    const ticks = log.map((x, i) => [x, i]).filter(([x, i]) => x === "tick" && i >= start).map(([, i]) => i);
    return log.slice(ticks[1] + 1, ticks[2]);
  };
  // The top of the list on screen: its first page, and at most the next one.
  await page.locator("#sessions tbody tr").first().scrollIntoViewIfNeeded();
  const top = await cycle();
  assert.ok(top.length >= 1 && top.length <= 2 && top[0] === "first", JSON.stringify(top));
  // The last rows on screen: only their page (read by its token).
  await page.locator("#sessions tbody tr").last().scrollIntoViewIfNeeded();
  const bottom = await cycle();
  assert.ok(bottom.length >= 1 && bottom.length <= 2 && bottom.every((x) => x === "page"), JSON.stringify(bottom));
  // A new session appears at the end, and changes there; none is lost or repeated.
  const group = (await client.send(new ListStreamGroupsCommand({}))).Items[0];
  const app = (await client.send(new ListApplicationsCommand({}))).Items[0];
  const started = await client.send(new StartStreamSessionCommand({
    Identifier: group.Id, ApplicationIdentifier: app.Arn, Protocol: "WebRTC", SignalRequest: "NO_CLIENT_CONNECTION",
  }));
  await until("the new session at the end", async () => (await shownArns(page)).at(-1) === started.Arn);
  await advance(60);
  await until("its change on screen", async () =>
    (await page.locator(`#sessions tbody tr[data-arn="${started.Arn}"] td.status`).textContent()) === "ACTIVE");
  assert.deepEqual(await shownArns(page), (await allSessions()).map((s) => s.Arn));
  assert.deepEqual(errors, []);
});

test("a day of service time later, expired tokens start the list again", async () => {
  const { page, errors } = await openDashboard();
  await page.locator("#more").click();
  await until("125 rows", async () => (await page.locator("#sessions tbody tr").count()) === 125);
  await page.locator('[data-advance="86400"]').click();
  await page.locator('[data-advance="60"]').click(); // past the tokens' 24 hours (the clock is frozen)
  await page.locator("#sessions tbody tr").nth(60).scrollIntoViewIfNeeded(); // the second page on screen
  await until("the first page again", async () => (await page.locator("#sessions tbody tr").count()) === 25);
  assert.deepEqual(await shownArns(page), (await allSessions()).slice(0, 25).map((s) => s.Arn));
  await page.locator("#more").click();
  await until("125 rows again", async () => (await page.locator("#sessions tbody tr").count()) === 125);
  assert.ok(await page.locator("#notice").isHidden());
  // The expired token's 400 is logged by the browser itself; nothing else is.
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
});

test("the drawer disables what the session's status cannot take, and says why", async () => {
  const { page, errors } = await openDashboard();
  const sessions = await allSessions();
  const actions = ['[data-event="clientConnected"]', '[data-event="clientDisconnected"]', '[data-event="userInput"]',
    '[data-event="applicationExited"]', "#inject", "#export", "#terminate"];
  const enabled = async () => {
    const out = {};
    for (const a of actions) out[a] = await page.locator(`#drawer ${a}`).isEnabled();
    return out;
  };
  const terminated = sessions.find((s) => s.Status === "TERMINATED");
  await openRow(page, terminated.Arn);
  assert.deepEqual(Object.values(await enabled()), actions.map(() => false));
  assert.match(await page.locator("#actions-why").textContent(), /^TERMINATED — Client connects: only while ACTIVE; /);
  assert.ok(await page.locator("#actions-why").isVisible());
  assert.match(await page.locator("#drawer #terminate").getAttribute("title"), /TERMINATED: it has already ended/);
  assert.ok(!(await page.locator("#watch").isVisible()));

  // A session of our own, placed: ACTIVE.
  const group = (await client.send(new ListStreamGroupsCommand({}))).Items[0];
  const app = (await client.send(new ListApplicationsCommand({}))).Items[0];
  const active = await client.send(new StartStreamSessionCommand({
    Identifier: group.Id, ApplicationIdentifier: app.Arn, Protocol: "WebRTC", SignalRequest: "NO_CLIENT_CONNECTION",
  }));
  await advance(60);
  await until("ACTIVE", async () => (await client.send(new GetStreamSessionCommand({
    Identifier: group.Id, StreamSessionIdentifier: active.Arn }))).Status === "ACTIVE");
  await openRow(page, active.Arn);
  await until("the ACTIVE session's actions", async () => (await enabled())['[data-event="clientConnected"]']);
  assert.deepEqual(await enabled(), {
    '[data-event="clientConnected"]': true, '[data-event="clientDisconnected"]': false, '[data-event="userInput"]': false,
    '[data-event="applicationExited"]': true, "#inject": true, "#export": true, "#terminate": true,
  });
  assert.match(await page.locator("#actions-why").textContent(), /^ACTIVE — Client disconnects, Input: only while CONNECTED\.$/);
  // assumeRoleFailed needs a session started with a RoleArn: this one has none.
  await page.locator("#fault-reason").selectOption("assumeRoleFailed");
  assert.ok(await page.locator("#drawer #inject").isDisabled());
  assert.match(await page.locator("#actions-why").textContent(), /Inject fault: assumeRoleFailed needs a session started with a RoleArn/);
  await page.locator("#fault-reason").selectOption("internalError");
  assert.ok(await page.locator("#drawer #inject").isEnabled());
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-drawer.png") });
  assert.deepEqual(errors, []);
});

test("the dashboard is readable 400 px wide", async () => {
  const { page, errors } = await openDashboard(400, 800);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px`);
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-400.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("in strict mode the page loads and says it needs default mode", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gls-ui-strict-"));
  const creds = join(dir, "credentials.toml");
  writeFileSync(creds, '[[credentials]]\naccess_key_id = "AKIAEXAMPLE1"\nsecret_access_key = "s"\naccount_id = "123456789012"\n');
  const strict = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--credentials", creds],
    { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const lines = createInterface({ input: strict.stdout })[Symbol.asyncIterator]();
    const strictUrl = (await lines.next()).value.trim().replace("listening on ", "");
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${strictUrl}/_local/ui`);
    await page.locator("#notice").waitFor();
    assert.match(await page.locator("#notice").textContent(), /strict mode .*default mode only/);
  } finally {
    strict.kill();
  }
});
