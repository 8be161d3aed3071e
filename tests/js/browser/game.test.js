// The developer's own game in the stream: the sample game (games/sample, built by the test
// command into $GLS_SAMPLE_GAME) is the build of an UBUNTU application in the local S3 root; a
// Web SDK-shaped page (client.html) starts a session, and what it decodes is the game's picture
// (pixel checks on a canvas copy of the <video>); its keys and mouse move the game; the game's
// exit ends the session and the page hears it; the game's sound is the page's audio (a Web
// Audio analyser finds the game's tone). Loopback only (scripts/test: `unshare -n`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
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
  GetApplicationCommand,
} from "@aws-sdk/client-gameliftstreams";

const BIN = process.env.GLS_BIN;
const GAME = process.env.GLS_SAMPLE_GAME;
const CHROMIUM = process.env.GLS_CHROMIUM || "/usr/bin/chromium";

const servers = [];
let browser;
let pageServer;
let pageUrl;

before(async () => {
  pageServer = await servePage();
  pageUrl = pageServer.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  if (browser) await browser.close();
  if (pageServer) pageServer.close();
  // SIGTERM: the server stops its games before it exits.
  await Promise.all(servers.map((p) => new Promise((r) => { p.once("exit", r); p.kill("SIGTERM"); })));
});

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "gls-game-"));
  const build = join(dir, "s3", "games", "sample");
  mkdirSync(build, { recursive: true });
  cpSync(GAME, build, { recursive: true });
  const proc = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir], { stdio: ["ignore", "pipe", "inherit"] });
  servers.push(proc);
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const url = (await lines.next()).value.trim().replace("listening on ", "");
  const client = new GameLiftStreamsClient({
    endpoint: url, region: "us-west-2", maxAttempts: 1,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
  const admin = async (method, path, body) => {
    const r = await fetch(url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  };
  const app = await client.send(new CreateApplicationCommand({
    Description: "Sample game", RuntimeEnvironment: { Type: "UBUNTU", Version: "22_04_LTS" },
    ExecutablePath: "run-game.sh", ApplicationSourceUri: "s3://games/sample",
  }));
  await admin("POST", "/_local/clock", { advanceSeconds: 2 });
  await until("READY", async () => (await client.send(new GetApplicationCommand({ Identifier: app.Id }))).Status === "READY");
  const group = await client.send(new CreateStreamGroupCommand({
    Description: "Games", StreamClass: "gen4n_high", DefaultApplicationIdentifier: app.Id,
    LocationConfigurations: [{ LocationName: "us-west-2", AlwaysOnCapacity: 4 }],
  }));
  await admin("POST", "/_local/clock", { advanceSeconds: 1 });
  return { url, client, admin, app, group };
}

// What the page decodes, at the stream's size: the RGB of each named point.
async function pixels(page, points) {
  return page.evaluate((pts) => {
    const video = document.getElementById("video");
    const c = document.createElement("canvas");
    c.width = video.videoWidth;
    c.height = video.videoHeight;
    const g = c.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0);
    const out = {};
    for (const [name, [x, y]] of Object.entries(pts)) out[name] = Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3));
    return out;
  }, points);
}

const near = (got, want, tolerance = 40) => got.every((v, i) => Math.abs(v - want[i]) <= tolerance);
const RED = [255, 0, 0], GREEN = [0, 255, 0], BLUE = [0, 0, 255], WHITE = [255, 255, 255];
const BACKGROUND = [20, 40, 120], YELLOW = [255, 255, 0], CYAN = [0, 255, 255], MAGENTA = [255, 0, 255];

test("a Web SDK 1.2.0 page with no <audio> element shows the game", { skip: !GAME && "GLS_SAMPLE_GAME is not set" }, async () => {
  const s = await startServer();
  const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
  const page = await context.newPage();
  await page.goto(`${pageUrl}?sdk=1.2.0`);
  assert.equal(await page.locator("audio").count(), 0);
  const offer = await page.evaluate(() => window.makeOffer());
  assert.equal(JSON.parse(offer).webSdkVersion, "1.2.0");
  const session = await s.client.send(new StartStreamSessionCommand({
    Identifier: s.group.Id, ApplicationIdentifier: s.app.Arn, Protocol: "WebRTC", SignalRequest: offer,
    DisplayConfiguration: { Resolution: { Width: 1280, Height: 720 } },
  }));
  const active = await until("ACTIVE", async () => {
    const got = await s.client.send(new GetStreamSessionCommand({ Identifier: s.group.Id, StreamSessionIdentifier: session.Arn }));
    return got.Status === "ACTIVE" && got;
  });
  await page.evaluate((r) => window.applyAnswer(r), active.SignalResponse);
  await until("the game's picture on the video element", async () => {
    const v = await page.evaluate(() => window.videoStats());
    if (!(v.framesDecoded > 0 && v.videoWidth === 1280)) return false;
    const p = await pixels(page, { tl: [20, 20], br: [1259, 699] });
    return near(p.tl, RED) && near(p.br, WHITE);
  }, 30000);
  assert.equal(await page.evaluate(() => document.getElementById("video").srcObject.getTracks().length), 2);
  await context.close();
});

test("the game's sound reaches the page: the decoded audio has its tone", { skip: !GAME && "GLS_SAMPLE_GAME is not set" }, async () => {
  const s = await startServer();
  // (The test command installs PulseAudio: without it the host says so and games are silent.)
  const health = (await s.admin("GET", "/_local/health")).body;
  assert.match(JSON.stringify(health), /sound: PulseAudio/, JSON.stringify(health));
  for (const sdk of ["1.1.0", "1.2.0"]) {
    const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
    const page = await context.newPage();
    await page.goto(`${pageUrl}?sdk=${sdk}`);
    const offer = await page.evaluate(() => window.makeOffer());
    const hz = sdk === "1.1.0" ? 660 : 990;
    const session = await s.client.send(new StartStreamSessionCommand({
      Identifier: s.group.Id, ApplicationIdentifier: s.app.Arn, Protocol: "WebRTC", SignalRequest: offer,
      AdditionalLaunchArgs: ["--tone", String(hz)],
      DisplayConfiguration: { Resolution: { Width: 1280, Height: 720 } },
    }));
    const active = await until("ACTIVE", async () => {
      const got = await s.client.send(new GetStreamSessionCommand({ Identifier: s.group.Id, StreamSessionIdentifier: session.Arn }));
      return got.Status === "ACTIVE" && got;
    });
    await page.evaluate((r) => window.applyAnswer(r), active.SignalResponse);
    const heard = await until(`the tone (${sdk})`, async () => {
      const got = await page.evaluate(() => window.loudest());
      return got && got.db > -60 && Math.abs(got.hz - hz) < 10 && got;
    }, 30000, 200);
    console.log(`Web SDK ${sdk}: the page hears ${heard.hz.toFixed(1)} Hz at ${heard.db.toFixed(1)} dB (the game plays ${hz} Hz)`);
    await context.close();
  }
});

test("the game's sound and picture reach the page together (within 100 ms)", { skip: !GAME && "GLS_SAMPLE_GAME is not set" }, async () => {
  const s = await startServer();
  const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
  const page = await context.newPage();
  await page.goto(pageUrl);
  const offer = await page.evaluate(() => window.makeOffer());
  const session = await s.client.send(new StartStreamSessionCommand({
    Identifier: s.group.Id, ApplicationIdentifier: s.app.Arn, Protocol: "WebRTC", SignalRequest: offer,
    AdditionalLaunchArgs: ["--beep-flash"],
    DisplayConfiguration: { Resolution: { Width: 1280, Height: 720 } },
  }));
  const active = await until("ACTIVE", async () => {
    const got = await s.client.send(new GetStreamSessionCommand({ Identifier: s.group.Id, StreamSessionIdentifier: session.Arn }));
    return got.Status === "ACTIVE" && got;
  });
  await page.evaluate((r) => window.applyAnswer(r), active.SignalResponse);
  await until("the picture", () => page.evaluate(() => document.getElementById("video").videoWidth > 0), 30000);
  // The game flashes and beeps together every 2 s: each flash's nearest beep, in ms (+: the
  // sound comes later).
  const onsets = await page.evaluate(() => window.avOnsets(11000));
  const skews = onsets.video
    .map((v) => onsets.audio.map((a) => a - v).sort((x, y) => Math.abs(x) - Math.abs(y))[0])
    .filter((d) => d !== undefined && Math.abs(d) < 1000)
    .sort((x, y) => x - y);
  console.log(`sound minus picture, ms: ${skews.map((d) => d.toFixed(0)).join(" ")} (flashes ${onsets.video.length}, beeps ${onsets.audio.length})`);
  assert.ok(skews.length >= 3, JSON.stringify(onsets));
  const median = skews[Math.floor(skews.length / 2)];
  assert.ok(Math.abs(median) <= 100, `median skew ${median.toFixed(0)} ms`);
  await context.close();
});

// A WAV file of `seconds` of a `hz` sine, 48 kHz mono 16-bit: the fake microphone's sound.
function toneWav(path, hz, seconds) {
  const n = 48000 * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write("RIFF", 0); b.writeUInt32LE(36 + n * 2, 4); b.write("WAVE", 8);
  b.write("fmt ", 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(48000, 24); b.writeUInt32LE(96000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write("data", 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(12000 * Math.sin(2 * Math.PI * hz * i / 48000)), 44 + i * 2);
  writeFileSync(path, b);
}

test("the page's microphone is the game's input; without it the game hears silence", { skip: !GAME && "GLS_SAMPLE_GAME is not set" }, async () => {
  const s = await startServer();
  const wav = join(mkdtempSync(join(tmpdir(), "gls-mic-")), "tone.wav");
  toneWav(wav, 523, 10);
  // A browser whose microphone plays the file (Chromium's fake capture device).
  const micBrowser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${wav}`],
  });
  try {
    for (const mic of [true, false]) {
      const context = await micBrowser.newContext({ viewport: { width: 800, height: 500 }, permissions: ["microphone"] });
      const page = await context.newPage();
      await page.goto(`${pageUrl}${mic ? "?mic=1" : ""}`);
      const offer = await page.evaluate(() => window.makeOffer());
      const session = await s.client.send(new StartStreamSessionCommand({
        Identifier: s.group.Id, ApplicationIdentifier: s.app.Arn, Protocol: "WebRTC", SignalRequest: offer,
        AdditionalLaunchArgs: ["--listen"],
        DisplayConfiguration: { Resolution: { Width: 1280, Height: 720 } },
      }));
      const id = session.Arn.split("/").pop();
      const active = await until("ACTIVE", async () => {
        const got = await s.client.send(new GetStreamSessionCommand({ Identifier: s.group.Id, StreamSessionIdentifier: session.Arn }));
        return got.Status === "ACTIVE" && got;
      });
      await page.evaluate((r) => window.applyAnswer(r), active.SignalResponse);
      if (mic) {
        // The game reports what it hears each second as a message: the page's 523 Hz (its first
        // second may start mid-stream, so any report within 15 Hz will do).
        const heard = await until("the game hears the page's tone", async () =>
          (await page.evaluate(() => window.events.messages))
            .find((t) => t.startsWith("heard:") && Math.abs(Number(t.slice(6)) - 523) < 15), 30000, 200)
          .catch(async (e) => {
            const app = (await s.admin("GET", `/_local/sessions/${id}/app`)).body;
            throw new Error(`${e.message}: ${JSON.stringify({ sound: app.sound, log: app.logTail })}`);
          });
        console.log(`the game reports ${heard} (the page's microphone plays 523 Hz)`);
        const app = (await s.admin("GET", `/_local/sessions/${id}/app`)).body;
        assert.ok(app.sound.microphonePackets > 0, JSON.stringify(app.sound));
      } else {
        await until("the game hears silence", async () =>
          (await s.admin("GET", `/_local/sessions/${id}/app`)).body.logTail.includes("heard: silence"), 30000, 200);
        const app = (await s.admin("GET", `/_local/sessions/${id}/app`)).body;
        assert.ok(!app.logTail.some((l) => /heard: \d/.test(l)), JSON.stringify(app.logTail));
      }
      await context.close();
    }
  } finally {
    await micBrowser.close();
  }
});

test("the page shows the game, its keys and mouse move it, and its exit ends the session", { skip: !GAME && "GLS_SAMPLE_GAME is not set" }, async () => {
  const s = await startServer();
  const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
  await page.goto(pageUrl);
  const offer = await page.evaluate(() => window.makeOffer());
  const started = Date.now();
  // A window of 640x480 that asks for no full screen: the host makes it fill the 1280x720
  // display, as AWS's hosts do.
  const session = await s.client.send(new StartStreamSessionCommand({
    Identifier: s.group.Id, ApplicationIdentifier: s.app.Arn, Protocol: "WebRTC", SignalRequest: offer,
    AdditionalLaunchArgs: ["--windowed", "--size", "640x480", "--exit-code", "5", "--messages-after", "3"],
    AdditionalEnvironmentVariables: { GAME_MODE: "browser-test" },
    DisplayConfiguration: { Resolution: { Width: 1280, Height: 720 } },
  }));
  const id = session.Arn.split("/").pop();
  const active = await until("ACTIVE", async () => {
    const got = await s.client.send(new GetStreamSessionCommand({ Identifier: s.group.Id, StreamSessionIdentifier: session.Arn }));
    if (got.Status === "ERROR" || got.Status === "TERMINATED") throw new Error(`session ended ${got.StatusReason}`);
    return got.Status === "ACTIVE" && got;
  });
  await page.evaluate((r) => window.applyAnswer(r), active.SignalResponse);
  // A message sent before the game connects to its endpoint (it waits 3 s) is kept for it.
  await until("the data channels", async () => (await page.evaluate(() => window.videoStats())).channels?.every((c) => c === "open"));
  assert.equal(await page.evaluate(() => window.sendMessage("hello")), true);
  const corners = { tl: [20, 20], tr: [1259, 20], bl: [20, 699], br: [1259, 699], bg: [300, 500], player: [640, 360] };
  const first = await until("the game's picture", async () => {
    const v = await page.evaluate(() => window.videoStats());
    if (!(v.framesDecoded > 0 && v.videoWidth === 1280)) return false;
    const p = await pixels(page, corners);
    return near(p.tl, RED) && near(p.tr, GREEN) && near(p.bl, BLUE) && near(p.br, WHITE) && near(p.bg, BACKGROUND) && p;
  }, 30000);
  console.log(`StartStreamSession to the game's first frame in the page: ${Date.now() - started} ms`);
  assert.ok(near(first.player, YELLOW), JSON.stringify(first));
  const info = (await s.admin("GET", `/_local/sessions/${id}/stream`)).body;
  assert.equal(info.source, "game");
  const app = (await s.admin("GET", `/_local/sessions/${id}/app`)).body;
  assert.equal(app.state, "running");
  assert.ok(app.windowMapped, JSON.stringify(app));
  assert.ok(app.logTail.includes("GAME_MODE=browser-test"), JSON.stringify(app.logTail));
  assert.ok(app.logTail.includes("arg 2: --size") || app.logTail.some((l) => l.includes("--windowed")));

  // The message reached the game once it connected: it shows it, and its answer reaches the page.
  await until("the game's answer", () => page.evaluate(() => window.events.messages.includes("echo:hello")), 15000);
  const seen = (await s.admin("GET", `/_local/sessions/${id}/app`)).body;
  assert.ok(seen.messagesConnected && seen.messagesToGame === 1 && seen.messagesFromGame === 1, JSON.stringify(seen));
  assert.ok(seen.logTail.includes("message: hello"), JSON.stringify(seen.logTail));
  const both = (await s.admin("GET", `/_local/sessions/${id}/messages`)).body;
  assert.deepEqual(both.messages.map((m) => Buffer.from(m.data, "base64").toString()), ["hello"]);
  assert.deepEqual(both.toPage.map((m) => Buffer.from(m.data, "base64").toString()), ["echo:hello"]);

  // The dashboard's drawer shows the process.
  const ui = await context.newPage();
  await ui.goto(`${s.url}/_local/ui`);
  await ui.locator(`#sessions tbody tr[data-arn="${session.Arn}"]`).click();
  await until("the drawer's application", async () =>
    (await ui.locator('#app-fields dd[data-app="State"]').textContent().catch(() => "")) === "running");
  assert.match(await ui.locator('#app-fields dd[data-app="Process"]').textContent(), new RegExp(`^pid ${app.pid} on display :\\d+ \\(1280×720\\)$`));
  assert.match(await ui.locator("#app-log").textContent(), /GAME_MODE=browser-test/);

  // Keys: four presses of the right arrow move the player 64 px right.
  await page.focus("#video");
  for (let i = 0; i < 4; i++) await page.keyboard.press("ArrowRight");
  await until("the player moved right", async () => {
    const p = await pixels(page, { moved: [640 + 64, 360], gone: [620, 360] });
    return near(p.moved, YELLOW) && near(p.gone, BACKGROUND) && p;
  });
  // The mouse: the marker follows it (the video shows the 1280x720 stream at 640x360 CSS
  // pixels: the page's point (100, 250) is the game's (200, 500)); a held button turns the
  // player cyan.
  const box = await page.locator("#video").boundingBox();
  await page.mouse.move(box.x + 100, box.y + 250);
  await until("the marker at the pointer", async () => near((await pixels(page, { m: [200, 500] })).m, MAGENTA));
  await page.mouse.down();
  await until("the player cyan", async () => near((await pixels(page, { p: [640 + 64, 360] })).p, CYAN));
  await page.mouse.up();

  // Escape: the game exits with its --exit-code; the session ends and the page hears it.
  await page.keyboard.press("Escape");
  const ended = await until("TERMINATED", async () => {
    const got = await s.client.send(new GetStreamSessionCommand({ Identifier: s.group.Id, StreamSessionIdentifier: session.Arn }));
    return got.Status === "TERMINATED" && got;
  });
  assert.equal(ended.StatusReason, "applicationExit");
  assert.equal((await s.admin("GET", `/_local/sessions/${id}/app`)).body.exitCode, 5);
  await until("onServerDisconnect", () => page.evaluate(() => window.events.disconnects.includes("terminated")));
  await until("the drawer says it exited", async () =>
    (await ui.locator('#app-fields dd[data-app="Exit code"]').textContent().catch(() => "")) === "5");
  await context.close();
});
