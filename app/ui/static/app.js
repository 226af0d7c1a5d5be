// The dashboard reads the same REST API as everyone else, with a session opened by its login
// form: the token lives in this tab's sessionStorage and goes out as `x-jetdr-session`, never
// as a cookie or cached Basic credentials that another site's page could make the browser send.
"use strict";

const API = "/api/v1";
const REFRESH_MS = 1000;
const TOKEN = "jetdr-session";

class LoggedOut extends Error {}

async function call(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN);
  if (!token) throw new LoggedOut("not logged in");
  const response = await fetch(path, {
    credentials: "omit",
    ...options,
    headers: { "content-type": "application/json", "x-jetdr-session": token },
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN);
    throw new LoggedOut("the session has ended");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.message || `${response.status} on ${path}`);
  }
  return response.status === 204 ? null : response.json();
}

function cell(text, state) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (state) td.className = `state-${state}`;
  return td;
}

function fill(tableId, rows, render) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("none");
    td.colSpan = document.querySelectorAll(`#${tableId} th`).length;
    td.className = "empty";
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = row.id;
    tr.append(...render(row));
    body.append(tr);
  }
}

const SVG = "http://www.w3.org/2000/svg";
const PLOTTED_DOMAINS = 20;

// A line over the last virtual hour of a domain's statistics samples, as inline SVG (no
// library, no CDN); its title says the latest value and the largest.
function sparkline(values, label, unit) {
  const width = 120;
  const height = 28;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  svg.setAttribute("class", "spark");
  svg.dataset.label = label;
  const known = values.filter((v) => v !== null && v !== undefined);
  const max = Math.max(0, ...known) || 1;
  const title = document.createElementNS(SVG, "title");
  const latest = known.length ? known[known.length - 1] : null;
  title.textContent = latest === null ? `${label}: no samples yet` : `${label}: ${latest} ${unit} (max ${max} ${unit})`;
  svg.append(title);
  if (values.length > 1) {
    const step = width / (values.length - 1);
    const points = values
      .map((v, i) => (v === null || v === undefined ? null : `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`))
      .filter((p) => p !== null);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "currentColor");
    svg.append(line);
  }
  return svg;
}

function lastHour(samples) {
  if (!samples.length) return [];
  const end = Date.parse(samples[samples.length - 1].at);
  return samples.filter((s) => end - Date.parse(s.at) <= 3600 * 1000);
}

function plots(statistics) {
  const td = document.createElement("td");
  if (!statistics) {
    td.textContent = "—";
    return td;
  }
  const hour = lastHour(statistics.samples);
  td.append(
    sparkline(hour.map((s) => s.rpo_seconds), "RPO", "s"),
    sparkline(hour.map((s) => s.incoming_mbps), "incoming", "MB/s"),
  );
  return td;
}

async function configure(clusterId) {
  await call(`${API}/clusters/${clusterId}/actions/configure`, { method: "POST" });
  refresh();
}

function renderClusters(clusters) {
  fill("clusters", clusters, (c) => {
    const hosts = document.createElement("td");
    for (const host of c.hosts || []) {
      const span = document.createElement("span");
      span.className = `host state-${host.iofilter_status}`;
      span.textContent = `${host.name}: ${host.iofilter_status}`;
      hosts.append(span);
    }
    const action = document.createElement("td");
    if (c.status === "unconfigured") {
      const button = document.createElement("button");
      button.textContent = "Configure";
      button.dataset.action = "configure";
      button.addEventListener("click", () => configure(c.id));
      action.append(button);
    }
    return [cell(c.name), cell(c.status, c.status), cell(c.iofilter ? `${c.iofilter.status}${c.iofilter.version ? " " + c.iofilter.version : ""}` : null), hosts, action];
  });
}

function renderTasks(tasks) {
  const list = document.getElementById("tasks");
  list.replaceChildren();
  if (tasks.length === 0) {
    list.textContent = "no task yet";
    list.className = "empty";
    return;
  }
  list.className = "";
  for (const task of tasks) {
    const row = document.createElement("div");
    row.className = "task";
    row.dataset.taskId = task.id;
    row.dataset.status = task.status;
    const label = document.createElement("span");
    const step = (task.steps || []).find((s) => s.status === "running");
    label.textContent = `${task.type} · ${task.entity.name || task.entity.id}${step ? ` (${step.name})` : ""}`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fillBar = document.createElement("div");
    fillBar.style.width = `${task.progress}%`;
    bar.append(fillBar);
    const percent = document.createElement("span");
    percent.className = "percent";
    percent.textContent = `${task.progress} %`;
    const status = document.createElement("span");
    status.className = `state-${task.status}`;
    status.textContent = task.status;
    row.append(label, bar, percent, status);
    list.append(row);
  }
}

function subscriptionText(subscription) {
  const until = {
    active: subscription.expires_at ? `, expires ${subscription.expires_at}` : "",
    grace: `, grace ends ${subscription.grace_ends_at}`,
    expired: " — new writes kept in bitmaps only",
  };
  return subscription.status === "none" ? "" : ` · subscription ${subscription.status}${until[subscription.status] || ""}`;
}

async function refresh() {
  try {
    const [status, sites, vcenters, clusters, drvas, domains, tasks, alarms, stores, reports, subscription] = await Promise.all([
      call(`${API}/status`),
      call(`${API}/sites`),
      call(`${API}/vcenters`),
      call(`${API}/clusters?limit=200`),
      call(`${API}/drvas`),
      call(`${API}/protection-domains`),
      call(`${API}/tasks?limit=10&sort_by=created_at&order=desc`),
      call(`${API}/alarms?active=true`),
      call(`${API}/storage-sites`),
      call(`${API}/recovery-reports?limit=10&sort_by=started_at&order=desc`),
      call(`${API}/subscription`),
    ]);
    const statistics = await Promise.all(
      domains.items.slice(0, PLOTTED_DOMAINS).map((d) => call(`${API}/protection-domains/${d.id}/statistics`)),
    );
    document.getElementById("appliance").textContent =
      `${status.status} · site ${status.site ? status.site.name : ""}${subscriptionText(subscription)}`;
    fill("sites", sites.items, (s) => [cell(s.name), cell(s.role), cell(s.url), cell(s.reachable)]);
    fill("vcenters", vcenters.items, (v) => [
      cell(v.hostname), cell(v.version), cell(v.status, v.status), cell(v.plugin && v.plugin.registered ? "registered" : "not registered"),
    ]);
    renderClusters(clusters.items);
    fill("drvas", drvas.items, (d) => [cell(d.name), cell(d.status, d.status), cell(d.ip), cell(d.version)]);
    fill("domains", domains.items, (d) => [
      cell(d.name), cell(d.mode), cell(d.health, d.health), cell(d.rpo_seconds), cell(d.vms), cell(d.owner_site_name),
      plots(statistics[domains.items.indexOf(d)]),
    ]);
    fill("storage-sites", stores.items, (s) => [cell(s.name), cell(s.type), cell(s.endpoint || s.path || s.region)]);
    fill("reports", reports.items, (r) => [
      cell(r.kind), cell(r.domain_name), cell(r.status, r.status), cell(`${r.source_site_name} → ${r.target_site_name}`),
      cell(r.rto_seconds === null ? null : `${r.rto_seconds} s`), cell(r.finished_at),
    ]);
    renderTasks(tasks.items);
    fill("alarms", alarms.items, (a) => [cell(a.type), cell(a.severity), cell(a.entity ? `${a.entity.type} ${a.entity.name || a.entity.id}` : ""), cell(a.raised_at), cell(a.message)]);
  } catch (error) {
    if (error instanceof LoggedOut) {
      showLogin(error.message);
      return;
    }
    document.getElementById("appliance").textContent = `error: ${error.message}`;
  }
}

let timer = null;

function showLogin(reason) {
  clearInterval(timer);
  timer = null;
  document.getElementById("dashboard").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("appliance").textContent = reason;
}

function showDashboard() {
  document.getElementById("login").hidden = true;
  document.getElementById("dashboard").hidden = false;
  document.getElementById("logout").hidden = false;
  refresh();
  if (timer === null) timer = setInterval(refresh, REFRESH_MS);
}

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("login-error");
  error.textContent = "";
  const response = await fetch(`${API}/session`, {
    method: "POST",
    credentials: "omit",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: form.username.value, password: form.password.value }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    error.textContent = body.message || `login failed (${response.status})`;
    return;
  }
  form.password.value = "";
  sessionStorage.setItem(TOKEN, body.session_id);
  showDashboard();
});

document.getElementById("logout").addEventListener("click", async () => {
  await call(`${API}/session`, { method: "DELETE" }).catch(() => null);
  sessionStorage.removeItem(TOKEN);
  showLogin("logged out");
});

if (sessionStorage.getItem(TOKEN)) showDashboard();
else showLogin("not logged in");
