// The dashboard's script: reads the AWS API (as the partition's account, unsigned — default
// mode) and the /_local/ admin API; polls every 2 s and redraws in place.

const POLL_MS = 2000;
const $ = (sel) => document.querySelector(sel);
const state = { account: "", region: "", token: undefined, rows: 0, pages: [], selected: null, timer: 0 };

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

// The first `want` rows again (the pages already shown), so that statuses change in place.
async function loadSessions(want) {
  const items = [];
  let token;
  do {
    const page = await fetchPage(token, Math.min(100, Math.max(1, want - items.length)));
    items.push(...(page.Items || []));
    token = page.NextToken;
  } while (token && items.length < want);
  state.token = token;
  state.rows = items.length;
  $("#sessions tbody").replaceChildren(...items.map(sessionRow));
  $("#sessions-caption").textContent = `${items.length} shown${token ? ", more to load" : ""}`;
  $("#more").hidden = !token;
  $("#cli").textContent = cliCommand();
}

async function loadMore() {
  const page = await fetchPage(state.token, 100);
  const body = $("#sessions tbody");
  for (const s of page.Items || []) body.append(sessionRow(s));
  state.rows += (page.Items || []).length;
  state.token = page.NextToken;
  $("#sessions-caption").textContent = `${state.rows} shown${state.token ? ", more to load" : ""}`;
  $("#more").hidden = !state.token;
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

async function refresh() {
  if (!state.account) return;
  try {
    await Promise.all([loadCounts(), loadSessions(Math.max(25, state.rows)), loadGroups(), loadApps(), loadClock(), refreshDrawer()]);
    notice("");
  } catch (err) {
    notice(isAuthError(err) ? STRICT : `Could not refresh: ${err.message}`);
  }
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => { await refresh(); schedule(); }, POLL_MS);
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
  state.rows = 0;
  state.selected = null;
  $("#drawer").hidden = true;
  refresh().then(schedule);
}

$("#partition").addEventListener("change", (e) => choose(e.target.value));
for (const id of ["#filter-status", "#filter-export"]) {
  $(id).addEventListener("change", () => { state.rows = 0; loadSessions(25).catch((e) => notice(e.message)); });
}
$("#more").addEventListener("click", () => loadMore().catch((e) => notice(e.message)));
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
$("#inject").addEventListener("click", () => act("Inject fault", (arn) =>
  call("POST", "/_local/faults", { target: "session", session: arn, statusReason: $("#fault-reason").value })));
$("#export").addEventListener("click", () => act("Export files", (arn) =>
  call("PUT", `/streamgroups/${groupOf(arn)}/streamsessions/${idOf(arn)}/exportfiles`, { OutputUri: $("#export-uri").value })));
$("#terminate").addEventListener("click", () => act("Terminate", (arn) =>
  call("DELETE", `/streamgroups/${groupOf(arn)}/streamsessions/${idOf(arn)}`)));

loadPartitions();
