// The AWS SDK for JavaScript v3 (@aws-sdk/client-gameliftstreams) against the real server on
// port 0: resources, the account-wide listing with its paginator and filters, typed errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  GameLiftStreamsClient,
  CreateApplicationCommand,
  CreateStreamGroupCommand,
  StartStreamSessionCommand,
  GetStreamSessionCommand,
  ListStreamSessionsByAccountCommand,
  GetApplicationCommand,
  paginateListStreamSessionsByAccount,
  ResourceNotFoundException,
  ValidationException,
} from "@aws-sdk/client-gameliftstreams";

const BIN = process.env.GLS_BIN;
let server;
let url;
let client;

async function advance(seconds) {
  const r = await fetch(`${url}/_local/clock`, { method: "POST", body: JSON.stringify({ advanceSeconds: seconds }) });
  assert.equal(r.status, 200);
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "gls-js-"));
  server = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve) => createInterface({ input: server.stdout }).once("line", resolve));
  url = line.trim().replace("listening on ", "");
  client = new GameLiftStreamsClient({
    endpoint: url,
    region: "us-west-2",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    maxAttempts: 1,
  });
});

after(() => server.kill());

test("sessions are created, placed and listed account-wide with the JS paginator", async () => {
  const app = await client.send(new CreateApplicationCommand({
    Description: "JS game",
    RuntimeEnvironment: { Type: "PROTON", Version: "20241007" },
    ExecutablePath: "Game.exe",
    ApplicationSourceUri: "s3://bucket/game/",
  }));
  assert.equal(app.Status, "INITIALIZED");
  assert.ok(app.CreatedAt instanceof Date, "timestamps parse as dates");
  await advance(2);
  const group = await client.send(new CreateStreamGroupCommand({
    Description: "JS group",
    StreamClass: "gen5n_ultra",
    DefaultApplicationIdentifier: app.Id,
    LocationConfigurations: [{ LocationName: "us-west-2", AlwaysOnCapacity: 10 }],
  }));
  await advance(1);
  const arns = [];
  for (let i = 0; i < 7; i++) {
    const s = await client.send(new StartStreamSessionCommand({
      Identifier: group.Id, ApplicationIdentifier: app.Arn, Protocol: "WebRTC", SignalRequest: "offer", UserId: `js-${i}`,
    }));
    arns.push(s.Arn);
  }
  await advance(2);
  const got = await client.send(new GetStreamSessionCommand({ Identifier: group.Arn, StreamSessionIdentifier: arns[0] }));
  assert.equal(got.Status, "ACTIVE");
  assert.equal(got.Location, "us-west-2");

  const seen = [];
  for await (const page of paginateListStreamSessionsByAccount({ client, pageSize: 2 }, { Status: "ACTIVE" })) {
    assert.ok(page.Items.length <= 2);
    seen.push(...page.Items.map((s) => s.Arn));
  }
  assert.deepEqual(seen, arns);
  const none = await client.send(new ListStreamSessionsByAccountCommand({ Status: "TERMINATED" }));
  assert.deepEqual(none.Items, []);
  assert.equal(none.NextToken, undefined);
});

test("modeled errors arrive as the SDK's exception classes", async () => {
  await assert.rejects(client.send(new GetApplicationCommand({ Identifier: "a-000000000" })), (e) => {
    assert.ok(e instanceof ResourceNotFoundException);
    assert.equal(e.$metadata.httpStatusCode, 404);
    assert.match(e.message, /a-000000000/);
    return true;
  });
  await assert.rejects(client.send(new ListStreamSessionsByAccountCommand({ MaxResults: 101 })), (e) => {
    assert.ok(e instanceof ValidationException);
    return true;
  });
  await assert.rejects(client.send(new ListStreamSessionsByAccountCommand({ NextToken: "garbage" })), ValidationException);
});
