// homeport console: one module, no framework, no build step. Everything it shows comes from
// the admin API with the bearer token the operator typed, kept in this tab's session storage
// only (never in a URL). Text from devices is put into the page as text, never as markup.

const TOKEN_KEY = "homeport.token";
const STATES = ["online", "offline", "pending", "logging_in", "login_failed"];
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const toastBox = document.getElementById("toast");

// ---- small helpers -------------------------------------------------------------------

/** An element with attributes (`on*` as listeners) and children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function toast(message) {
  toastBox.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (toastBox.textContent = ""), 4000);
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the admin API; JSON in and out unless `raw` (then the Response is returned). */
async function api(method, path, body, { raw = false, type } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  let payload;
  if (body !== undefined) {
    if (type) {
      headers["Content-Type"] = type;
      payload = body;
    } else {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
  }
  const response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  if (response.status === 401) {
    logout("The token was refused; log in again.");
    throw new ApiError(401, "unauthorized");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error || message;
    } catch (_) {
      /* not JSON */
    }
    throw new ApiError(response.status, message);
  }
  if (raw) return response;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

const enc = encodeURIComponent;

function stateBadge(state) {
  return h("span", { class: `badge state-${state}`, "data-state": state }, state.replace("_", " "));
}

function ago(rfc3339) {
  if (!rfc3339) return "—";
  const seconds = Math.round((Date.now() - Date.parse(rfc3339)) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(rfc3339).toLocaleString();
}

function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, String(error.message || error));
}

/**
 * Makes `nodes` the children of `parent`, in order: the others are removed and the new ones
 * inserted, but one that stays is never moved (a node taken out of the page loses the focus
 * inside it).
 */
function place(parent, nodes) {
  const kept = new Set(nodes);
  for (const child of [...parent.children]) if (!kept.has(child)) child.remove();
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
  });
}

/** Runs `work`, showing its error in `where` (or as a toast). */
async function attempt(work, where) {
  try {
    if (where) where.replaceChildren();
    return await work();
  } catch (error) {
    if (error.status === 401) return undefined;
    if (where) where.replaceChildren(errorBox(error));
    else toast(String(error.message || error));
    return undefined;
  }
}

// ---- the event stream ----------------------------------------------------------------

/**
 * Reads `GET /api/events` (server-sent events) with the token in a header — EventSource
 * cannot send one — and calls `onEvent(kind, data)` for each; reconnects until `signal`
 * aborts. A `lagged` message says events were missed: `onEvent("lagged", {missed})`.
 */
async function streamEvents(query, onEvent, signal) {
  let delay = 500;
  while (!signal.aborted) {
    try {
      const response = await fetch(`/api/events${query}`, {
        headers: { Authorization: `Bearer ${token()}` },
        signal,
        cache: "no-store",
      });
      if (response.status === 401) {
        logout("The token was refused; log in again.");
        return;
      }
      if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`);
      delay = 500;
      onEvent("connected", {});
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let kind = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) kind = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (data.length) {
            try {
              onEvent(kind, JSON.parse(data.join("\n")));
            } catch (_) {
              /* not JSON: ignored */
            }
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

// ---- pages ---------------------------------------------------------------------------

let pageAbort = new AbortController();

function loginPage(message) {
  nav.hidden = true;
  const field = h("input", {
    id: "token", type: "password", name: "token", autocomplete: "current-password", required: true,
  });
  const problem = h("div", { "aria-live": "polite" }, message ? errorBox(message) : null);
  const form = h(
    "form",
    {
      class: "login",
      onsubmit: async (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, field.value.trim());
        const response = await fetch("/api/listeners", {
          headers: { Authorization: `Bearer ${token()}` },
        });
        if (response.ok) {
          location.hash = "#/devices";
          route();
        } else {
          sessionStorage.removeItem(TOKEN_KEY);
          problem.replaceChildren(errorBox("That token is not this gateway's admin token."));
        }
      },
    },
    h("h1", {}, "Log in to homeport"),
    h("p", {}, "The admin token is in ", h("code", {}, "<data>/admin.token"),
      " (or ", h("code", {}, "$HOMEPORT_ADMIN_TOKEN"), "). It stays in this tab only."),
    h("label", { for: "token" }, "Admin token", field),
    h("button", { type: "submit", class: "primary" }, "Log in"),
    problem,
  );
  main.replaceChildren(form);
  field.focus();
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  pageAbort.abort();
  loginPage(message);
}

/** Credentials for device `id`, or for the ID typed in the form when `id` is null. */
function credentialsForm(id, { accept, submitLabel, onDone }) {
  const idField = id === null ? h("input", { name: "id", required: true, "aria-label": "Device ID" }) : null;
  const username = h("input", { name: "username", value: "admin", required: true, "aria-label": "Username" });
  const password = h("input", { name: "password", type: "password", required: true, "aria-label": "Password", autocomplete: "off" });
  const protocol = h("select", { name: "login_protocol", "aria-label": "Login protocol" },
    ["auto", "dvrip", "dhip", "legacy"].map((p) => h("option", { value: p }, p)));
  const problem = h("div");
  return h("form", {
    class: "inline",
    onsubmit: (event) => {
      event.preventDefault();
      const device = idField ? idField.value.trim() : id;
      attempt(async () => {
        await api("POST", "/api/devices", {
          id: device, username: username.value, password: password.value,
          login_protocol: protocol.value, accept,
        });
        toast(`${device}: credentials added`);
        onDone();
      }, problem);
    },
  },
  idField ? h("label", {}, "Device ID", idField) : null,
  h("label", {}, "Username", username),
  h("label", {}, "Password", password),
  h("label", {}, "Protocol", protocol),
  h("button", { type: "submit", class: "primary" }, submitLabel),
  problem);
}

function editForm(device, onDone) {
  const name = h("input", { name: "name", value: device.name || "", "aria-label": "Name" });
  const tags = h("input", { name: "tags", value: (device.tags || []).join(" "), "aria-label": "Tags" });
  const username = h("input", { name: "username", value: device.username || "", "aria-label": "Username" });
  const password = h("input", { name: "password", type: "password", placeholder: "unchanged", "aria-label": "Password", autocomplete: "off" });
  const problem = h("div");
  return h("form", {
    class: "inline",
    onsubmit: (event) => {
      event.preventDefault();
      const change = {
        name: name.value,
        tags: tags.value.split(/[\s;]+/).filter(Boolean),
      };
      if (username.value && username.value !== device.username) change.username = username.value;
      if (password.value) change.password = password.value;
      attempt(async () => {
        await api("PUT", `/api/devices/${enc(device.id)}`, change);
        toast(`${device.id}: saved`);
        onDone();
      }, problem);
    },
  },
  h("label", {}, "Name", name),
  h("label", {}, "Tags", tags),
  h("label", {}, "Username", username),
  h("label", {}, "Password", password),
  h("button", { type: "submit", class: "primary" }, "Save"),
  problem);
}

async function devicesPage() {
  const devices = new Map();
  const counts = h("ul", { class: "counts", "aria-label": "Devices by state" });
  const filter = h("select", { id: "state-filter", "aria-label": "Show devices in state" },
    h("option", { value: "" }, "every state"),
    STATES.map((s) => h("option", { value: s }, s.replace("_", " "))));
  const search = h("input", { id: "search", type: "search", placeholder: "Search by ID or name", "aria-label": "Search by ID or name" });
  const body = h("tbody");
  const problem = h("div");
  const importReport = h("div", { id: "import-report", "aria-live": "polite" });
  const file = h("input", { type: "file", accept: ".csv,text/csv", "aria-label": "CSV file to import" });

  const render = () => {
    const byState = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const d of devices.values()) byState[d.state] = (byState[d.state] || 0) + 1;
    counts.replaceChildren(
      h("li", {}, `${devices.size} device${devices.size === 1 ? "" : "s"}`),
      ...STATES.map((s) => h("li", { "data-count": s }, stateBadge(s), ` ${byState[s] || 0}`)),
    );
    const wanted = filter.value;
    const needle = search.value.trim().toLowerCase();
    const shown = [...devices.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .filter((d) => !wanted || d.state === wanted)
      .filter((d) => !needle || d.id.toLowerCase().includes(needle) || (d.name || "").toLowerCase().includes(needle))
      .flatMap((d) => {
        const r = rowsOf(d);
        return [r.line, r.under];
      });
    for (const id of rows.keys()) if (!devices.has(id)) rows.delete(id);
    place(body, shown.length ? shown : [empty]);
  };

  // Each device keeps its rows: its line, drawn again only when what the API says of it
  // changed, and the row under it that holds an open form. Other devices' events therefore
  // never touch a form being typed in: it keeps its text and its focus.
  const rows = new Map();
  const empty = h("tr", {}, h("td", { colspan: 6 }, "No devices."));
  const rowsOf = (d) => {
    let r = rows.get(d.id);
    if (!r) {
      r = { key: null, line: null, under: h("tr", { hidden: true }, h("td", { colspan: 6 })) };
      rows.set(d.id, r);
    }
    const key = JSON.stringify(d);
    if (r.key !== key) {
      const old = r.line;
      r.key = key;
      r.line = line(d, r.under);
      if (old && old.isConnected) old.replaceWith(r.line);
    }
    return r;
  };
  // Opens the form `make(onDone)` builds under a device's line. Once it has done its work it
  // closes — itself only: a form opened in its place meanwhile stays — and the device is
  // fetched again.
  const open = (id, under, make) => {
    const form = make(() => {
      if (under.firstChild.firstChild === form) {
        under.hidden = true;
        under.firstChild.replaceChildren();
      }
      refresh(id);
    });
    under.firstChild.replaceChildren(form);
    under.hidden = false;
  };

  const line = (d, under) => {
    const actions = h("td", { class: "actions" });
    if (!d.known) {
      actions.append(h("button", {
        type: "button", class: "primary", "data-action": "credentials",
        onclick: () => open(d.id, under, (onDone) =>
          credentialsForm(d.id, { accept: true, submitLabel: "Add and log in", onDone })),
      }, "Add credentials"));
    } else {
      actions.append(
        h("button", { type: "button", "data-action": "edit", onclick: () => open(d.id, under, (onDone) => editForm(d, onDone)) }, "Edit"),
        " ",
        h("button", {
          type: "button", class: "danger", "data-action": "delete",
          onclick: () => {
            if (!confirm(`Delete ${d.id}? Its session is closed and its credentials forgotten.`)) return;
            attempt(async () => {
              const n = ++asked;
              await api("DELETE", `/api/devices/${enc(d.id)}`);
              take(n, d.id, null);
              render();
              toast(`${d.id} deleted`);
            });
          },
        }, "Delete"),
      );
    }
    return h("tr", { "data-device": d.id, "data-state": d.state },
      h("td", {}, h("a", { href: `#/devices/${enc(d.id)}` }, d.id), d.name ? h("div", { class: "reason" }, d.name) : null),
      h("td", {}, stateBadge(d.state), d.reason ? h("div", { class: "reason" }, d.reason) : null),
      h("td", { class: "hide-narrow" }, d.addr || "—"),
      h("td", { class: "hide-narrow" }, ago(d.last_seen)),
      h("td", { class: "hide-narrow" }, (d.tags || []).join(" ")),
      actions,
    );
  };

  // Every fetch is numbered, and what one says of a device is kept only if no later fetch
  // has spoken of it already: answers arriving out of order never bring back an older state.
  let asked = 0;
  const heard = new Map();
  const take = (n, id, d) => {
    if ((heard.get(id) || 0) > n) return;
    heard.set(id, n);
    if (d) devices.set(id, d);
    else devices.delete(id);
  };

  const refresh = async (id) => {
    const n = ++asked;
    try {
      take(n, id, await api("GET", `/api/devices/${enc(id)}`));
    } catch (error) {
      if (error.status === 404) take(n, id, null);
    }
    render();
  };

  const load = async () => {
    const n = ++asked;
    const list = await api("GET", "/api/devices");
    const listed = new Set(list.map((d) => d.id));
    for (const d of list) take(n, d.id, d);
    for (const id of [...devices.keys()]) if (!listed.has(id)) take(n, id, null);
    render();
  };

  const add = h("details", {},
    h("summary", {}, "Add a device"),
    credentialsForm(null, { accept: false, submitLabel: "Add", onDone: load }));

  main.replaceChildren(
    h("h1", {}, "Devices"),
    counts,
    h("div", { class: "toolbar" },
      h("label", {}, "State", filter),
      h("label", {}, "Search", search),
      h("label", {}, "Import CSV", file),
      h("button", {
        type: "button", id: "import",
        onclick: () => attempt(async () => {
          if (!file.files.length) throw new Error("Choose a CSV file first.");
          const report = await api("POST", "/api/devices/import", await file.files[0].text(), { type: "text/csv" });
          importReport.replaceChildren(h("p", { class: "ok" }, `Imported: ${report.added} added, ${report.updated} updated.`));
          await load();
        }, importReport),
      }, "Import"),
      h("button", {
        type: "button", id: "export",
        onclick: () => attempt(async () => {
          const response = await api("GET", "/api/devices/export?format=csv", undefined, { raw: true });
          const url = URL.createObjectURL(await response.blob());
          const link = h("a", { href: url, download: "homeport-devices.csv" });
          document.body.append(link);
          link.click();
          link.remove();
          setTimeout(() => URL.revokeObjectURL(url), 10000);
        }),
      }, "Export CSV"),
    ),
    importReport,
    add,
    problem,
    h("div", { class: "table-wrap" },
      h("table", { id: "devices" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Device"),
          h("th", { scope: "col" }, "State"),
          h("th", { scope: "col", class: "hide-narrow" }, "Address"),
          h("th", { scope: "col", class: "hide-narrow" }, "Last seen"),
          h("th", { scope: "col", class: "hide-narrow" }, "Tags"),
          h("th", { scope: "col" }, "Actions"))),
        body)),
  );
  filter.addEventListener("change", render);
  search.addEventListener("input", render);
  await attempt(load, problem);
  // Changed devices are fetched again a moment after their events, each once; a burst (an
  // announcement of the whole fleet, a restart) is one fetch of the list instead.
  const changed = new Set();
  let flush = null;
  const later = (id) => {
    changed.add(id);
    flush ??= setTimeout(() => {
      const ids = [...changed];
      changed.clear();
      flush = null;
      if (ids.length > 20) attempt(load, problem);
      else ids.forEach(refresh);
    }, 250);
  };
  streamEvents("?kind=registered,online_changed,announced", (kind, data) => {
    if (kind === "connected" || kind === "lagged") {
      attempt(load, problem);
    } else if (data.device) {
      later(data.device);
    }
  }, pageAbort.signal);
}

async function devicePage(id) {
  const facts = h("dl", { class: "facts", id: "facts" });
  const problem = h("div");
  const picture = h("div", { id: "snapshot" });
  const channel = h("input", { type: "number", min: 0, value: 0, id: "channel", "aria-label": "Channel" });
  const config = h("textarea", { id: "dvrip-config", "aria-label": "DVRIP config table (JSON)", spellcheck: "false" });
  const configNote = h("div", { "aria-live": "polite" });
  const events = h("ol", { class: "events", id: "events", "aria-live": "polite" });
  const rpcMethod = h("input", { id: "rpc-method", value: "magicBox.getDeviceType", "aria-label": "Method" });
  const rpcParams = h("textarea", { id: "rpc-params", "aria-label": "Params (JSON)", spellcheck: "false" }, "null");
  const rpcOut = h("pre", { id: "rpc-result" });

  const showFacts = (d) => {
    const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value ?? "—")];
    facts.replaceChildren(
      ...fact("State", stateBadge(d.state)),
      ...fact("Since", `${ago(d.since)} (${d.since})`),
      ...fact("Reason", d.reason),
      ...fact("Name", d.name),
      ...fact("Tags", (d.tags || []).join(" ") || null),
      ...fact("Model", d.identity && d.identity.device_type),
      ...fact("Serial", d.identity && d.identity.serial),
      ...fact("Firmware", d.firmware),
      ...fact("Channels", d.channels),
      ...fact("Address", d.addr),
      ...fact("Last seen", ago(d.last_seen)),
      ...fact("Login", d.known ? `${d.username} (${d.login_protocol}${d.connected_with ? `, worked: ${d.connected_with}` : ""})` : "no credentials"),
    );
  };
  const load = async () => showFacts(await api("GET", `/api/devices/${enc(id)}`));

  main.replaceChildren(
    h("p", {}, h("a", { href: "#/devices" }, "← Devices")),
    h("h1", {}, id),
    problem,
    facts,
    h("h2", {}, "Snapshot"),
    h("div", { class: "toolbar" },
      h("label", {}, "Channel", channel),
      h("button", {
        type: "button", id: "take-snapshot", class: "primary",
        onclick: () => attempt(async () => {
          const response = await api("GET", `/api/devices/${enc(id)}/snapshot?channel=${enc(channel.value)}`, undefined, { raw: true });
          const blob = await response.blob();
          const url = URL.createObjectURL(blob);
          const caption = h("figcaption", { class: "reason" }, `${blob.type || "image"}, ${blob.size} bytes`);
          const img = h("img", { src: url, class: "snapshot", alt: `Snapshot of ${id}, channel ${channel.value}`, "data-bytes": blob.size });
          img.addEventListener("load", () => {
            caption.textContent = `${blob.type || "image"}, ${blob.size} bytes, ${img.naturalWidth}×${img.naturalHeight}, ${new Date().toLocaleTimeString()}`;
          });
          picture.replaceChildren(h("figure", {}, img, caption));
        }, picture),
      }, "Take snapshot")),
    picture,
    h("h2", {}, "Register config (DVRIP)"),
    h("p", { class: "reason" }, "Saving merges these fields into the device's table; fields the device has and this text leaves out are kept."),
    config,
    h("div", { class: "toolbar" },
      h("button", {
        type: "button", id: "load-config",
        onclick: () => attempt(async () => {
          config.value = JSON.stringify(await api("GET", `/api/devices/${enc(id)}/config/DVRIP`), null, 2);
        }, configNote),
      }, "Read from the device"),
      h("button", {
        type: "button", id: "save-config", class: "primary",
        onclick: () => attempt(async () => {
          let patch;
          try {
            patch = JSON.parse(config.value);
          } catch (error) {
            throw new Error(`Not JSON: ${error.message}`);
          }
          const written = await api("PUT", `/api/devices/${enc(id)}/config/DVRIP`, patch);
          config.value = JSON.stringify(written, null, 2);
          configNote.replaceChildren(h("p", { class: "ok" }, "Written; the device's table now reads as above."));
        }, configNote),
      }, "Save to the device")),
    configNote,
    h("h2", {}, "Recent events"),
    events,
    h("h2", {}, "Raw RPC"),
    h("p", { class: "reason" }, "For experts: any JSON-RPC method, sent over the device's session as it is."),
    h("label", {}, "Method", rpcMethod),
    h("label", {}, "Params (JSON)", rpcParams),
    h("div", { class: "toolbar" },
      h("button", {
        type: "button", id: "send-rpc",
        onclick: () => attempt(async () => {
          const params = JSON.parse(rpcParams.value || "null");
          rpcOut.textContent = JSON.stringify(await api("POST", `/api/devices/${enc(id)}/rpc`, { method: rpcMethod.value, params }), null, 2);
        }, rpcOut),
      }, "Send")),
    rpcOut,
  );
  await attempt(load, problem);
  attempt(async () => {
    config.value = JSON.stringify(await api("GET", `/api/devices/${enc(id)}/config/DVRIP`), null, 2);
  }, configNote);
  streamEvents(`?device=${enc(id)}`, (kind, data) => {
    if (kind === "connected" || kind === "lagged") return;
    const time = new Date(data.at_ms).toLocaleTimeString();
    const what = data.kind === "alarm"
      ? `alarm ${data.code} ${data.action} (channel ${data.channel})`
      : data.kind === "online_changed"
        ? `${data.online ? "online" : "offline"} (${data.reason})`
        : data.kind;
    events.prepend(h("li", { "data-kind": data.kind }, `${time} ${what}`));
    while (events.children.length > 50) events.lastChild.remove();
    if (data.kind !== "alarm") attempt(load, problem);
  }, pageAbort.signal);
}

async function pipelinesPage() {
  const result = h("div", { id: "reload-result", "aria-live": "polite" });
  const stats = h("div", { id: "pipeline-stats" });
  const letters = h("tbody");
  const problem = h("div");
  const loadStats = async () => {
    const list = await api("GET", "/api/pipelines/stats");
    stats.replaceChildren(...list.map((p) => h("section", { "data-pipeline": p.name },
      h("h2", {}, p.name, " ", h("span", { class: "reason" }, `on ${p.on.join(", ")}`)),
      h("ul", { class: "counts" },
        h("li", {}, `in ${p.in}`), h("li", {}, `out ${p.out}`), h("li", {}, `failed ${p.failed}`),
        h("li", {}, `routed ${p.routed}`), h("li", {}, `in flight ${p.in_flight}`),
        Object.entries(p.dropped).map(([reason, n]) => h("li", {}, `dropped (${reason}) ${n}`))),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Stage"), h("th", { scope: "col" }, "Passed"),
          h("th", { scope: "col" }, "Dropped"), h("th", { scope: "col" }, "Failed attempts"))),
        h("tbody", {}, p.stages.map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, s.passed),
          h("td", {}, s.dropped), h("td", {}, s.errors)))))))));
  };
  const loadLetters = async () => {
    const list = await api("GET", "/api/dlq");
    letters.replaceChildren(...list.map((l) => h("tr", { "data-letter": l.id },
      h("td", {}, l.id), h("td", {}, new Date(l.at_ms).toLocaleString()), h("td", {}, l.pipeline),
      h("td", {}, l.stage), h("td", {}, l.error),
      h("td", {}, h("button", {
        type: "button", "data-action": "replay",
        onclick: () => attempt(async () => {
          const replayed = await api("POST", `/api/dlq/${l.id}/replay`);
          toast(replayed.failed.length ? `Not replayed: ${replayed.failed[0][1]}` : `Dead letter ${l.id} replayed`);
          await loadLetters();
          await loadStats();
        }, problem),
      }, "Replay")))));
    if (!list.length) letters.append(h("tr", {}, h("td", { colspan: 6 }, "No dead letters.")));
  };
  main.replaceChildren(
    h("h1", {}, "Pipelines"),
    h("div", { class: "toolbar" },
      h("button", {
        type: "button", id: "reload", class: "primary",
        onclick: () => attempt(async () => {
          const reloaded = await api("POST", "/api/pipelines/reload");
          result.replaceChildren(h("p", { class: "ok" }, `Reloaded: ${reloaded.pipelines.join(", ")}`));
          await loadStats();
        }, result),
      }, "Reload from files"),
      h("button", { type: "button", onclick: () => attempt(async () => { await loadStats(); await loadLetters(); }, problem) }, "Refresh")),
    result,
    problem,
    stats,
    h("h2", {}, "Dead letters"),
    h("div", { class: "table-wrap" }, h("table", { id: "dead-letters" },
      h("thead", {}, h("tr", {}, ["Id", "Stored", "Pipeline", "Stage", "Error", ""].map((t) => h("th", { scope: "col" }, t)))),
      letters)),
  );
  await attempt(async () => { await loadStats(); await loadLetters(); }, problem);
}

async function syncPage() {
  const body = h("tbody");
  const cameras = h("div", { id: "account-cameras" });
  const problem = h("div");
  const list = await attempt(() => api("GET", "/api/accounts"), problem);
  main.replaceChildren(
    h("h1", {}, "Camera-sync accounts"),
    problem,
    h("div", { class: "table-wrap" }, h("table", { id: "accounts" },
      h("thead", {}, h("tr", {}, ["Account", "Cameras", "Last login", "From", "Locked until"].map((t) => h("th", { scope: "col" }, t)))),
      body)),
    cameras,
  );
  for (const a of list || []) {
    body.append(h("tr", { "data-account": a.name },
      h("td", {}, h("button", {
        type: "button",
        onclick: () => attempt(async () => {
          const bound = await api("GET", `/api/accounts/${enc(a.name)}/cameras`);
          cameras.replaceChildren(h("h2", {}, `Cameras bound to ${a.name}`),
            h("ul", {}, bound.map((c) => h("li", {}, c.camera_id, " ",
              stateBadge(c.online ? "online" : "offline"), c.verified ? " verified" : " not verified"))));
        }, cameras),
      }, a.name)),
      h("td", {}, a.cameras), h("td", {}, ago(a.last_login)), h("td", {}, a.last_login_ip || "—"),
      h("td", {}, a.locked_until ? h("span", { class: "badge state-login_failed" }, a.locked_until) : "—")));
  }
  if (list && !list.length) body.append(h("tr", {}, h("td", { colspan: 5 }, "No accounts.")));
}

async function gatewayPage() {
  const facts = h("dl", { class: "facts", id: "gateway" });
  const checks = h("tbody");
  const problem = h("div");
  const load = async () => {
    const g = await api("GET", "/api/gateway");
    const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value ?? "—")];
    const link = (sink) => !sink.configured ? "not configured" : sink.connected ? stateBadge("online") : stateBadge("offline");
    facts.replaceChildren(
      ...fact("Version", g.version),
      ...fact("Up for", `${Math.floor(g.uptime_secs / 3600)} h ${Math.floor((g.uptime_secs % 3600) / 60)} min`),
      ...fact("Register listener", g.register.listening ? `listening on ${g.register.addr}` : "stopped"),
      ...fact("Camera-sync", g.sync || "not running"),
      ...fact("MQTT", link(g.mqtt)),
      ...fact("NATS", link(g.nats)),
    );
    toggle.textContent = g.register.listening ? "Stop register listening" : "Start register listening";
    toggle.dataset.listening = g.register.listening;
    const ready = await fetch("/readyz", { cache: "no-store" }).then((r) => r.json());
    checks.replaceChildren(...ready.checks.map((c) => h("tr", {}, h("td", {}, c.name),
      h("td", {}, c.ok ? h("span", { class: "ok" }, "ok") : h("span", { class: "error" }, "not ready")),
      h("td", {}, c.detail || ""))));
  };
  const toggle = h("button", {
    type: "button", id: "toggle-listener",
    onclick: () => attempt(async () => {
      const stop = toggle.dataset.listening === "true";
      await api("POST", `/api/listeners/register/${stop ? "stop" : "start"}`);
      await load();
    }, problem),
  }, "…");
  main.replaceChildren(
    h("h1", {}, "Gateway"),
    problem,
    facts,
    h("div", { class: "toolbar" }, toggle),
    h("h2", {}, "Readiness"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Check", "", "Detail"].map((t) => h("th", { scope: "col" }, t)))), checks)),
  );
  await attempt(load, problem);
}

// ---- routing -------------------------------------------------------------------------

async function route() {
  pageAbort.abort();
  pageAbort = new AbortController();
  if (!token()) {
    loginPage();
    return;
  }
  nav.hidden = false;
  const hash = location.hash || "#/devices";
  for (const link of nav.querySelectorAll("a")) {
    if (hash.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const [, section, rest] = hash.match(/^#\/([^/]*)\/?(.*)$/) || [];
  document.title = `homeport — ${section || "devices"}`;
  if (section === "devices" && rest) await devicePage(decodeURIComponent(rest));
  else if (section === "pipelines") await pipelinesPage();
  else if (section === "sync") await syncPage();
  else if (section === "gateway") await gatewayPage();
  else await devicesPage();
  main.focus({ preventScroll: true });
}

document.getElementById("logout").addEventListener("click", () => logout());
window.addEventListener("hashchange", route);
route();
