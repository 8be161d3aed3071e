// Real streams in a real browser: Debian's headless Chromium, driven by playwright-core, runs
// a Web SDK-shaped client page (client.html, served from its own origin) against the real
// server; the backend side uses the AWS SDK for JavaScript. Run inside a loopback-only network
// namespace (scripts/test: `unshare -n`), so nothing leaves 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { until, CHROMIUM_ARGS, servePage } from "./support.js";
import {
  GameLiftStreamsClient,
  CreateApplicationCommand,
  CreateStreamGroupCommand,
  StartStreamSessionCommand,
  GetStreamSessionCommand,
  CreateStreamSessionConnectionCommand,
  TerminateStreamSessionCommand,
} from "@aws-sdk/client-gameliftstreams";

const BIN = process.env.GLS_BIN;
const CHROMIUM = process.env.GLS_CHROMIUM || "/usr/bin/chromium";

const servers = [];
let browser;
let pageServer;
let pageUrl;

async function startServer(...extra) {
  const dir = mkdtempSync(join(tmpdir(), "gls-stream-"));
  const proc = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir, ...extra],
    { stdio: ["ignore", "pipe", "inherit"] });
  servers.push(proc);
  // Both ready lines come in one write: read them from one iterator, not two `once`s (the
  // second line's event fires before a second listener could be added).
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = (await lines.next()).value;
  const second = (await lines.next()).value;
  assert.match(first, /^listening on http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(second, /^streaming on udp:\/\/127\.0\.0\.1:\d+$/);
  const url = first.trim().replace("listening on ", "");
  const client = new GameLiftStreamsClient({
    endpoint: url, region: "us-west-2", maxAttempts: 1,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
  const admin = async (method, path, body) => {
    const r = await fetch(url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  };
  return { url, client, admin };
}

async function setup(s) {
  const app = await s.client.send(new CreateApplicationCommand({
    Description: "Streamed game", RuntimeEnvironment: { Type: "PROTON", Version: "20241007" },
    ExecutablePath: "Game.exe", ApplicationSourceUri: "s3://bucket/game/",
  }));
  await s.admin("POST", "/_local/clock", { advanceSeconds: 2 });
  const group = await s.client.send(new CreateStreamGroupCommand({
    Description: "Streams", StreamClass: "gen5n_ultra", DefaultApplicationIdentifier: app.Id,
    LocationConfigurations: [{ LocationName: "us-west-2", AlwaysOnCapacity: 4 }],
  }));
  await s.admin("POST", "/_local/clock", { advanceSeconds: 1 });
  return { app, group };
}

async function getSession(s, group, arn) {
  return s.client.send(new GetStreamSessionCommand({ Identifier: group.Id, StreamSessionIdentifier: arn }));
}

async function newPage() {
  const context = await browser.newContext({ permissions: ["microphone"] });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
  await page.goto(pageUrl);
  return page;
}

before(async () => {
  pageServer = await servePage();
  pageUrl = pageServer.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  if (pageServer) pageServer.close();
  for (const p of servers) p.kill();
});

test("a Web SDK-shaped page streams a session, drives its lifecycle and exchanges messages", async () => {
  const s = await startServer();
  const { app, group } = await setup(s);
  const page = await newPage();
  const offer = await page.evaluate(() => window.makeOffer());
  assert.ok(!JSON.parse(offer).sdp.includes("a=candidate"), "the offer carries no candidates");
  const started = Date.now();
  const session = await s.client.send(new StartStreamSessionCommand({
    Identifier: group.Id, ApplicationIdentifier: app.Arn, Protocol: "WebRTC", SignalRequest: offer,
    PerformanceStatsConfiguration: { SharedWithClient: true },
  }));
  const id = session.Arn.split("/").pop();
  const active = await until("ACTIVE", async () => {
    const got = await getSession(s, group, session.Arn);
    if (got.Status === "ERROR") throw new Error(`session ended ${got.StatusReason}`);
    return got.Status === "ACTIVE" && got;
  });
  const answer = JSON.parse(active.SignalResponse);
  assert.deepEqual(Object.keys(answer).sort(), ["sdp", "type", "webSdkProtocolUrl"]);
  assert.equal(answer.webSdkProtocolUrl, active.WebSdkProtocolUrl);
  assert.match(answer.sdp, /m=application [1-9]/, "the answer accepts the data channels");
  assert.match(answer.sdp, /a=candidate:.* 127\.0\.0\.1 \d+ typ host/);
  const applied = Date.now();
  await page.evaluate((r) => window.applyAnswer(r), active.SignalResponse);
  await until("a first decoded frame", async () => (await page.evaluate(() => window.videoStats())).framesDecoded > 0, 15000, 10);
  const answerToFrameMs = Date.now() - applied;
  const stats = await until("decoded frames", async () => {
    const v = await page.evaluate(() => window.videoStats());
    return v.framesDecoded > 5 && v.videoWidth > 0 && v;
  });
  const firstFrameMs = Date.now() - started;
  assert.equal(stats.videoWidth, 1280);
  assert.equal(stats.videoHeight, 720);
  const connected = await until("CONNECTED", async () => {
    const got = await getSession(s, group, session.Arn);
    return got.Status === "CONNECTED" && got;
  });
  assert.equal(connected.StatusReason, undefined);
  await until("the stream's info", async () => {
    const info = (await s.admin("GET", `/_local/sessions/${id}/stream`)).body;
    return info.peer && info.connected && info.channelsOpen && info.framesSent > 5 && info;
  });
  console.log(`StartStreamSession to 5 decoded frames: ${firstFrameMs} ms (1 s of it is placement); answer applied to the first decoded frame: ${answerToFrameMs} ms`);

  // Input reaches the server: the last input is recorded and the idle timer restarts.
  const before = (await getSession(s, group, session.Arn)).LastUpdatedAt.getTime();
  await new Promise((r) => setTimeout(r, 1100));
  await page.keyboard.press("KeyG");
  await page.mouse.move(200, 150);
  await until("input at the server", async () => {
    const info = (await s.admin("GET", `/_local/sessions/${id}/stream`)).body;
    return info.lastInput && info;
  });
  await until("the idle timer restarted", async () =>
    (await getSession(s, group, session.Arn)).LastUpdatedAt.getTime() > before);

  // Application messages, both ways.
  const sent = await s.admin("POST", `/_local/sessions/${id}/messages`, { data: Buffer.from("hello page").toString("base64") });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  await until("the page got the message", () => page.evaluate(() => window.events.messages.includes("hello page")));
  assert.equal(await page.evaluate(() => window.sendMessage("hello game")), true);
  await until("the server got the message", async () => {
    const got = (await s.admin("GET", `/_local/sessions/${id}/messages`)).body.messages;
    return got.some((m) => Buffer.from(m.data, "base64").toString() === "hello game");
  });
  await until("performance stats", () => page.evaluate(() => window.events.stats > 0));

  // close() -> PENDING_CLIENT_RECONNECTION; a new offer -> CONNECTED again.
  await page.evaluate(() => window.closeStream());
  await until("PENDING_CLIENT_RECONNECTION", async () =>
    (await getSession(s, group, session.Arn)).Status === "PENDING_CLIENT_RECONNECTION");
  assert.equal((await s.admin("POST", `/_local/sessions/${id}/messages`, { data: "eA==" })).status, 409);
  const again = await page.evaluate(() => window.makeOffer());
  const conn = await s.client.send(new CreateStreamSessionConnectionCommand({
    Identifier: group.Id, StreamSessionIdentifier: session.Arn, SignalRequest: again,
  }));
  assert.notEqual(JSON.parse(conn.SignalResponse).sdp, answer.sdp, "a fresh answer for a fresh peer");
  await page.evaluate((r) => window.applyAnswer(r), conn.SignalResponse);
  await until("CONNECTED again", async () => (await getSession(s, group, session.Arn)).Status === "CONNECTED");
  await until("frames after the reconnection", async () => (await page.evaluate(() => window.videoStats())).framesDecoded > 5);

  // TerminateStreamSession -> the page hears "terminated".
  await s.client.send(new TerminateStreamSessionCommand({ Identifier: group.Id, StreamSessionIdentifier: session.Arn }));
  await until("onServerDisconnect", () => page.evaluate(() => window.events.disconnects.includes("terminated")));
  await page.context().close();
});

test("the play page streams a session started with NO_CLIENT_CONNECTION", async () => {
  const s = await startServer();
  const { app, group } = await setup(s);
  const session = await s.client.send(new StartStreamSessionCommand({
    Identifier: group.Id, ApplicationIdentifier: app.Arn, Protocol: "WebRTC", SignalRequest: "NO_CLIENT_CONNECTION",
  }));
  const context = await browser.newContext({ permissions: ["microphone"] });
  const page = await context.newPage();
  await page.goto(`${s.url}/_local/play/${encodeURIComponent(session.Arn)}`);
  await until("the play page streams", async () => {
    const v = await page.evaluate(() => {
      const video = document.getElementById("video");
      return { w: video.videoWidth, t: video.currentTime, status: document.getElementById("status").textContent };
    });
    return v.w > 0 && v.t > 0.2 && v;
  });
  await until("CONNECTED", async () => (await getSession(s, group, session.Arn)).Status === "CONNECTED");
  await context.close();
});

test("strict signalling: an offer that is not usable ends the session ERROR/invalidSignalRequest", async () => {
  const s = await startServer("--signal", "strict");
  const { app, group } = await setup(s);
  for (const signal of ["v=0 offer", JSON.stringify({ type: "offer", sdp: "v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96\n" })]) {
    const session = await s.client.send(new StartStreamSessionCommand({
      Identifier: group.Id, ApplicationIdentifier: app.Arn, Protocol: "WebRTC", SignalRequest: signal,
    }));
    const ended = await until("ERROR", async () => {
      const got = await getSession(s, group, session.Arn);
      return got.Status === "ERROR" && got;
    });
    assert.equal(ended.StatusReason, "invalidSignalRequest");
  }
});
