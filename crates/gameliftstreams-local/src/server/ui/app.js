// The dashboard's script: reads the AWS API (as the partition's account, unsigned — default
// mode) and the /_local/ admin API; polls every 2 s and redraws in place.

const POLL_MS = 2000;
const $ = (sel) => document.querySelector(sel);
// The session list is a run of pages, each its own <tbody>: the token that starts it (none for
// the first), the key (CreatedAt, id) of its last row when it was loaded (its upper bound; none
// for a last page that had no NextToken) and its rows. Loading a page, the refresh of the pages
// on screen and a reload for new filters are one queue (`list`), so that none undoes another;
// `gen` changes with the partition or the filters and drops what an older list was doing.
const state = { account: "", region: "", pages: [], next: undefined, gen: 0, list: Promise.resolve(), selected: null, timer: 0 };

// An unsigned Authorization header naming the account and region: in default mode the server
// reads the caller's scope from its credential and checks no signature.
function auth() {
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  return `AWS4-HMAC-SHA256 Credential=${state.account}/${day}/${state.region}/gameliftstreams/aws4_request, SignedHeaders=host, Signature=0`;
}

async function call(method, path, body) {
  const headers = { Authorization: auth() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const data = text ? JSON.parse(text) : {};
  if (!r.ok) {
    const type = r.headers.get("x-amzn-ErrorType") || data.error || r.status;
    const err = new Error(`${type}: ${data.message || data.error || r.statusText}`);
    err.status = r.status;
    err.type = String(type);
    throw err;
  }
  return data;
}

// What strict mode (--credentials) answers to the page's unsigned requests.
const AUTH_ERRORS = ["MissingAuthenticationTokenException", "IncompleteSignatureException",
  "InvalidSignatureException", "UnrecognizedClientException", "SignatureDoesNotMatchException"];
const STRICT = "This server runs in strict mode (--credentials): the dashboard reads the API unsigned and works in default mode only.";
const isAuthError = (err) => err.status === 403 || AUTH_ERRORS.some((t) => String(err.type || "").includes(t));

function notice(text) {
  const n = $("#notice");
  n.textContent = text || "";
  n.hidden = !text;
}

const when = (secs) => (secs === undefined ? "" : new Date(secs * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"));
const idOf = (arn) => (arn || "").split("/").pop();
const groupOf = (arn) => (arn || "").split("/").slice(-2, -1)[0];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function bars(container, counts, order) {
  const keys = order.filter((k) => counts[k] !== undefined).concat(Object.keys(counts).filter((k) => !order.includes(k)));
  const max = Math.max(1, ...keys.map((k) => counts[k]));
  container.replaceChildren(
    ...keys.map((k) => {
      const fill = el("div", { class: "fill" });
      fill.style.width = `${(100 * counts[k]) / max}%`;
      return el("div", { class: "bar", role: "listitem", "data-key": k, "aria-label": `${k}: ${counts[k]}` },
        el("span", { text: k }), el("div", { class: "track" }, fill), el("span", { class: "n", text: String(counts[k]) }));
    }),
  );
}

const STATUSES = ["ACTIVATING", "ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION", "RECONNECTING", "TERMINATING", "TERMINATED", "ERROR"];

async function loadCounts() {
  const q = new URLSearchParams({ account: state.account, region: state.region });
  const c = await call("GET", `/_local/counts?${q}`);
  $("#total").textContent = `${c.total} in all`;
  bars($("#status-chart"), c.byStatus, STATUSES);
  bars($("#export-chart"), c.byExportStatus, ["NONE", "PENDING", "SUCCEEDED", "FAILED"]);
}

function filters() {
  const q = {};
  if ($("#filter-status").value) q.Status = $("#filter-status").value;
  if ($("#filter-export").value) q.ExportFilesStatus = $("#filter-export").value;
  return q;
}

function cliCommand() {
  const f = filters();
  let cmd = `aws gameliftstreams list-stream-sessions-by-account --endpoint-url ${location.origin} --region ${state.region}`;
  if (f.Status) cmd += ` --status ${f.Status}`;
  if (f.ExportFilesStatus) cmd += ` --export-files-status ${f.ExportFilesStatus}`;
  return `AWS_ACCESS_KEY_ID=${state.account} AWS_SECRET_ACCESS_KEY=local ${cmd}`;
}

function sessionRow(s) {
  const tr = el("tr", { tabindex: "0", "data-arn": s.Arn, "aria-label": `session ${idOf(s.Arn)}, ${s.Status}` },
    el("td", { text: idOf(s.Arn), title: s.Arn }),
    el("td", { text: s.UserId || "" }),
    el("td", { class: "status", text: s.Status || "" }),
    el("td", { text: s.StatusReason || "" }),
    el("td", { text: s.Location || "" }),
    el("td", { text: when(s.CreatedAt) }),
    el("td", { text: when(s.LastUpdatedAt) }),
    el("td", { text: (s.ExportFilesMetadata && s.ExportFilesMetadata.Status) || "" }));
  const open = () => openDrawer(s.Arn);
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
  return tr;
}

async function fetchPage(token, max) {
  const q = new URLSearchParams({ ...filters(), MaxResults: String(max) });
  if (token) q.set("NextToken", token);
  return call("GET", `/streamsessions?${q}`);
}

// The list's order: CreatedAt, then the session id.
const keyOf = (s) => ({ at: s.CreatedAt || 0, id: idOf(s.Arn) });
const after = (a, b) => a.at > b.at || (a.at === b.at && a.id > b.id);

// Run `task` after every list task queued before it; it is dropped if the list was reloaded
// (other partition or filters) in the meantime.
function enqueue(task) {
  const gen = state.gen;
  const run = state.list.then(() => (gen === state.gen ? task(gen) : undefined));
  state.list = run.catch(() => {});
  return run;
}

function showPages() {
  const rows = state.pages.reduce((n, p) => n + p.items.length, 0);
  $("#sessions-caption").textContent = `${rows} shown${state.next ? ", more to load" : ""}`;
  $("#more").hidden = !state.next;
  $("#cli").textContent = cliCommand();
}

function addPage(token, page) {
  const items = page.Items || [];
  const body = el("tbody", {}, ...items.map(sessionRow));
  const last = items[items.length - 1];
  const bound = page.NextToken && last ? keyOf(last) : null;
  state.pages.push({ token, bound, items, body, readAt: Date.now() });
  state.next = page.NextToken;
  $("#sessions").append(body);
}

// The list starts again at its first page (in list task `gen`).
async function firstPage(gen) {
  const page = await fetchPage(undefined, 25);
  if (gen !== state.gen) return;
  for (const p of state.pages) p.body.remove();
  state.pages = [];
  addPage(undefined, page);
  showPages();
}

// A new list: the first page under the current filters.
function reloadSessions() {
  state.gen += 1;
  return enqueue(firstPage);
}

// A list read refused as a bad request: its token has expired (24 hours of service time, as
// the clock panel can pass at once). The list starts again at its first page.
function startOverIf(err, gen) {
  if (err.status !== 400 || gen !== state.gen) return false;
  reloadSessions().catch(() => {});
  return true;
}

function loadMore() {
  return enqueue(async (gen) => {
    if (!state.next) return;
    const token = state.next;
    let page;
    try {
      page = await fetchPage(token, 100);
    } catch (err) {
      if (startOverIf(err, gen)) return;
      throw err;
    }
    if (gen !== state.gen) return;
    addPage(token, page);
    showPages();
  });
}

// The pages whose rows are on screen (an empty page counts when a neighbour does).
function visiblePages() {
  const seen = state.pages.map((p) => {
    const r = p.body.getBoundingClientRect();
    return r.height > 0 && r.bottom > 0 && r.top < window.innerHeight;
  });
  return state.pages.filter((p, i) => seen[i] || (p.items.length === 0 && (seen[i - 1] || seen[i + 1])));
}

// Read a page again: the rows from its token up to its bound, at most three requests (an open
// last page: one request, and `more` when it has grown past it).
async function rereadPage(p) {
  const items = [];
  let token = p.token;
  for (let i = 0; i < 3; i++) {
    const page = await fetchPage(token, 100);
    const got = page.Items || [];
    if (!p.bound) return { items: got, more: page.NextToken };
    items.push(...got.filter((s) => !after(keyOf(s), p.bound)));
    const last = got[got.length - 1];
    token = page.NextToken;
    if (!token || !last || !after(p.bound, keyOf(last))) break; // at the bound, or the end
  }
  return { items, more: undefined };
}

// Show `items` as the page's rows, keeping the rows that did not change (and so the focus and
// the hover on them).
function showRows(p, items) {
  const old = new Map(p.items.map((s, i) => [s.Arn, [JSON.stringify(s), p.body.children[i]]]));
  const rows = items.map((s) => {
    const [was, tr] = old.get(s.Arn) || [];
    return tr && was === JSON.stringify(s) ? tr : sessionRow(s);
  });
  p.items = items;
  const current = [...p.body.children];
  if (rows.length === current.length && rows.every((r, i) => r === current[i] || r.dataset.arn === current[i].dataset.arn)) {
    rows.forEach((r, i) => { if (r !== current[i]) current[i].replaceWith(r); });
  } else {
    p.body.replaceChildren(...rows);
  }
}

// The session's application process as the host runs it (GET /_local/sessions/{id}/app).
async function showApp(arn) {
  let a;
  try {
    a = await call("GET", `/_local/sessions/${encodeURIComponent(arn)}/app`);
  } catch {
    return;
  }
  if (state.selected !== arn) return;
  const mb = (b) => (b === undefined || b === null ? "" : `${(b / 1048576).toFixed(1)} MB`);
  const rows = [
    ["State", a.state + (a.reason ? ` — ${a.reason}` : "")],
    ["Process", a.pid ? `pid ${a.pid} on display ${a.display} (${a.width}×${a.height})` : ""],
    ["Command", (a.command || []).join(" ")],
    ["CPU", a.cpuSeconds !== null && a.cpuSeconds !== undefined ? `${a.cpuSeconds.toFixed(2)} s` : ""],
    ["Memory", mb(a.memoryBytes)],
    ["Exit code", a.exitCode ?? ""],
    ["Window", a.state === "running" ? (a.windowMapped ? "mapped" : "not yet") : ""],
    ["Messages", a.messageEndpoint ? `${a.messageEndpoint}: ${a.messagesToGame} in, ${a.messagesFromGame} out${a.messagesConnected ? "" : " (not connected)"}` : ""],
  ].filter(([, v]) => v !== "");
  $("#app-fields").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { "data-app": k, text: String(v) })]));
  const log = $("#app-log");
  log.textContent = (a.logTail || []).join("\n");
  log.hidden = !(a.logTail && a.logTail.length);
}

// The drawer's session as it just read it, in its row of the list too (wherever that is).
function showInList(s) {
  const p = state.pages.find((page) => page.items.some((i) => i.Arn === s.Arn));
  if (!p) return;
  const fields = ["Arn", "UserId", "Status", "StatusReason", "Protocol", "LastUpdatedAt", "CreatedAt", "ApplicationArn", "Location", "RoleArn"];
  const summary = Object.fromEntries(fields.filter((k) => s[k] !== undefined).map((k) => [k, s[k]]));
  if (s.ExportFilesMetadata) summary.ExportFilesMetadata = { Status: s.ExportFilesMetadata.Status };
  showRows(p, p.items.map((i) => (i.Arn === s.Arn ? summary : i)));
}

// The refresh re-reads the pages on screen, not every page ever loaded; each replaces its own
// rows, so rows loaded while it ran stay.
function refreshSessions(maxAge = 0) {
  return enqueue(async (gen) => {
    if (state.pages.length === 0) return firstPage(gen); // the first load failed: again
    const now = Date.now();
    for (const p of visiblePages().filter((v) => now - v.readAt >= maxAge)) {
      let got;
      try {
        got = await rereadPage(p);
      } catch (err) {
        if (startOverIf(err, gen)) return;
        throw err;
      }
      if (gen !== state.gen || !state.pages.includes(p)) return;
      showRows(p, got.items);
      p.readAt = Date.now();
      if (!p.bound && got.more && p === state.pages[state.pages.length - 1]) {
        // The open last page grew past what one read shows: it ends here, the rest is "more".
        const last = got.items[got.items.length - 1];
        p.bound = last ? keyOf(last) : null;
        state.next = got.more;
      }
    }
    if (gen === state.gen) showPages();
  });
}

async function loadGroups() {
  const list = await call("GET", "/streamgroups");
  const groups = await Promise.all((list.Items || []).map((g) => call("GET", `/streamgroups/${g.Id}`)));
  $("#groups").replaceChildren(...groups.map((g) => {
    const rows = (g.LocationStates || []).map((l) => {
      const allocated = l.AllocatedCapacity || 0, idle = l.IdleCapacity || 0, inUse = Math.max(0, allocated - idle);
      const max = Math.max(1, l.MaximumCapacity || allocated);
      const bar = el("div", { class: "capacity", role: "img", "aria-label": `${inUse} in use, ${idle} idle of ${max}` },
        el("div", { class: "in-use" }), el("div", { class: "idle" }));
      bar.children[0].style.width = `${(100 * inUse) / max}%`;
      bar.children[1].style.width = `${(100 * idle) / max}%`;
      return el("tr", {}, el("td", { text: l.LocationName }), el("td", { text: l.Status || "" }),
        el("td", { text: String(allocated) }), el("td", { text: String(idle) }), el("td", { text: String(inUse) }),
        el("td", { text: String(l.MaximumCapacity ?? "") }), el("td", {}, bar));
    });
    return el("div", { class: "group", "data-group": g.Id },
      el("h3", { text: `${g.Id} — ${g.Description || ""} · ${g.StreamClass} · ${g.Status}` }),
      el("div", { class: "scroll" }, el("table", {},
        el("thead", {}, el("tr", {}, ...["Location", "Status", "Allocated", "Idle", "In use", "Maximum", "Capacity"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...rows))));
  }));
}

async function loadApps() {
  const list = await call("GET", "/applications");
  const apps = await Promise.all((list.Items || []).map((a) => call("GET", `/applications/${a.Id}`)));
  $("#apps tbody").replaceChildren(...apps.map((a) => el("tr", { "data-app": a.Id },
    el("td", { text: a.Id }), el("td", { text: a.Description || "" }), el("td", { class: "status", text: a.Status || "" }),
    el("td", { text: (a.ReplicationStatuses || []).map((r) => `${r.Location}: ${r.Status}`).join(", ") }))));
}

async function loadClock() {
  const c = await call("GET", "/_local/clock");
  $("#now").textContent = when(c.now);
  $("#clock-kind").textContent = c.clock === "frozen" ? "frozen" : "running";
}

async function openDrawer(arn) {
  state.selected = arn;
  $("#drawer").hidden = false;
  $("#drawer-status").textContent = "";
  await refreshDrawer();
  $("#drawer-close").focus();
}

async function refreshDrawer() {
  if (!state.selected) return;
  const arn = state.selected;
  const s = await call("GET", `/streamgroups/${groupOf(arn)}/streamsessions/${idOf(arn)}`);
  if (state.selected !== arn) return;
  $("#drawer-title").textContent = `Stream session ${idOf(arn)} — ${s.Status}`;
  allowActions(s);
  showInList(s);
  await showApp(arn);
  $("#fields").replaceChildren(...Object.entries(s).flatMap(([k, v]) => [
    el("dt", { text: k }),
    el("dd", { "data-field": k, text: typeof v === "object" ? JSON.stringify(v, null, 1) : k.endsWith("At") ? `${when(v)} (${v})` : String(v) }),
  ]));
  const watch = $("#watch");
  const offer = typeof s.SignalRequest === "string" && s.SignalRequest.trim().startsWith("{") || /v=0/.test(s.SignalRequest || "");
  watch.hidden = !(offer || s.SignalRequest === "NO_CLIENT_CONNECTION") || ["TERMINATED", "TERMINATING", "ERROR"].includes(s.Status);
  watch.href = `/_local/play/${encodeURIComponent(arn)}`;
  const e = s.ExportFilesMetadata;
  const link = $("#archive");
  link.hidden = !(e && e.Status === "SUCCEEDED");
  link.href = `/_local/sessions/${encodeURIComponent(arn)}/export`;
  link.textContent = e && e.OutputUri ? `Export archive (${e.OutputUri})` : "Export archive";
}

// What each drawer action needs of the session, and what the drawer says when it is not so.
const RUNNING = ["ACTIVE", "CONNECTED", "PENDING_CLIENT_RECONNECTION", "RECONNECTING"];
const ENDED = ["TERMINATED", "ERROR"];
const ACTIONS = [
  ['[data-event="clientConnected"]', (s) => s.Status === "ACTIVE" || "only while ACTIVE"],
  ['[data-event="clientDisconnected"]', (s) => s.Status === "CONNECTED" || "only while CONNECTED"],
  ['[data-event="userInput"]', (s) => s.Status === "CONNECTED" || "only while CONNECTED"],
  ['[data-event="applicationExited"]', (s) => RUNNING.includes(s.Status) || `only while the application runs (${RUNNING.join(", ")})`],
  ["#inject", (s) => (ENDED.includes(s.Status) ? "not once the session has ended"
    : $("#fault-reason").value === "assumeRoleFailed" && !s.RoleArn ? "assumeRoleFailed needs a session started with a RoleArn" : true)],
  ["#export", (s) => RUNNING.includes(s.Status) || `only while the application runs (${RUNNING.join(", ")})`],
  ["#terminate", (s) => (s.Status === "ACTIVATING" ? "not while ACTIVATING: once it is ACTIVE"
    : ["TERMINATING", ...ENDED].includes(s.Status) ? "it has already ended or is ending" : true)],
];

// Enable the actions the session's status can take; the others are disabled, each with its
// reason as its title and all of them in one line under the buttons.
function allowActions(s) {
  state.session = s;
  const why = new Map();
  for (const [sel, rule] of ACTIONS) {
    const button = $(`#drawer ${sel}`);
    const ok = rule(s);
    button.disabled = ok !== true;
    button.title = ok === true ? "" : `${s.Status}: ${ok}`;
    if (ok !== true) why.set(ok, [...(why.get(ok) || []), button.textContent]);
  }
  const line = $("#actions-why");
  line.textContent = why.size ? `${s.Status} — ` + [...why].map(([reason, names]) => `${names.join(", ")}: ${reason}`).join("; ") + "." : "";
  line.hidden = !why.size;
}

async function act(what, f) {
  const arn = state.selected;
  try {
    await f(arn);
    $("#drawer-status").textContent = `${what}: done`;
  } catch (err) {
    $("#drawer-status").textContent = `${what}: ${err.message}`;
  }
  await refresh();
}

// Everything on the page again; list pages read less than `maxAge` ms ago are left as they are
// (the tick passes half its period: a page just loaded is not read twice).
async function refresh(maxAge = 0) {
  if (!state.account) return;
  try {
    await Promise.all([loadCounts(), refreshSessions(maxAge), loadGroups(), loadApps(), loadClock(), refreshDrawer()]);
    notice("");
  } catch (err) {
    notice(isAuthError(err) ? STRICT : `Could not refresh: ${err.message}`);
  }
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => { await refresh(POLL_MS / 2); schedule(); }, POLL_MS);
}

async function loadPartitions() {
  let list;
  try {
    list = (await call("GET", "/_local/partitions")).partitions;
  } catch (err) {
    notice(isAuthError(err) ? STRICT : `Could not read the partitions: ${err.message}`);
    return;
  }
  if (list.length === 0) list = [{ account: "111122223333", region: "us-west-2" }];
  const sel = $("#partition");
  sel.replaceChildren(...list.map((p) => el("option", { value: `${p.account}/${p.region}`, text: `${p.account} · ${p.region}` })));
  const wanted = new URLSearchParams(location.search).get("partition");
  if (wanted && list.some((p) => `${p.account}/${p.region}` === wanted)) sel.value = wanted;
  choose(sel.value);
}

function choose(value) {
  [state.account, state.region] = value.split("/");
  state.selected = null;
  $("#drawer").hidden = true;
  reloadSessions().catch(() => {});
  refresh(POLL_MS / 2).then(schedule);
}

$("#partition").addEventListener("change", (e) => choose(e.target.value));
for (const id of ["#filter-status", "#filter-export"]) {
  $(id).addEventListener("change", () => reloadSessions().catch((e) => notice(e.message)));
}
$("#more").addEventListener("click", () => loadMore().catch((e) => notice(e.message)));
// Pages scrolled onto the screen are read again soon, not only at the next tick.
let scrolled = 0;
window.addEventListener("scroll", () => {
  clearTimeout(scrolled);
  scrolled = setTimeout(() => refreshSessions(POLL_MS / 2).catch(() => {}), 250);
}, { passive: true });
$("#copy-cli").addEventListener("click", async () => {
  const text = cliCommand();
  try { await navigator.clipboard.writeText(text); $("#copy-cli").textContent = "Copied"; } catch { $("#copy-cli").textContent = "Select the command to copy it"; }
  setTimeout(() => { $("#copy-cli").textContent = "Copy AWS CLI command"; }, 1500);
});
for (const b of document.querySelectorAll("[data-advance]")) {
  b.addEventListener("click", () => advance(Number(b.dataset.advance)));
}
$("#advance-go").addEventListener("click", () => advance(Number($("#advance-custom").value)));
async function advance(seconds) {
  try { await call("POST", "/_local/clock", { advanceSeconds: seconds }); } catch (err) { notice(err.message); }
  await refresh();
}
$("#drawer-close").addEventListener("click", () => { state.selected = null; $("#drawer").hidden = true; });
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#drawer").hidden) $("#drawer-close").click(); });
for (const b of document.querySelectorAll("[data-event]")) {
  b.addEventListener("click", () => act(b.textContent, (arn) => {
    const body = { event: b.dataset.event };
    if (body.event === "applicationExited") body.exitCode = 1;
    return call("POST", `/_local/sessions/${encodeURIComponent(arn)}/events`, body);
  }));
}
$("#fault-reason").addEventListener("change", () => { if (state.session) allowActions(state.session); });
$("#inject").addEventListener("click", () => act("Inject fault", (arn) =>
  call("POST", "/_local/faults", { target: "session", session: arn, statusReason: $("#fault-reason").value })));
$("#export").addEventListener("click", () => act("Export files", (arn) =>
  call("PUT", `/streamgroups/${groupOf(arn)}/streamsessions/${idOf(arn)}/exportfiles`, { OutputUri: $("#export-uri").value })));
$("#terminate").addEventListener("click", () => act("Terminate", (arn) =>
  call("DELETE", `/streamgroups/${groupOf(arn)}/streamsessions/${idOf(arn)}`)));

loadPartitions();
