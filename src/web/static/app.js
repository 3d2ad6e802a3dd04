// StreamForge dashboard: live updates over server-sent events, and every
// change through the JSON API (with the CSRF header the admin session
// needs). Plain JS, no build step, no network beyond this server.
"use strict";
(function () {
  let csrf = null;
  async function token() {
    if (csrf !== null) return csrf;
    try {
      const r = await fetch("/api/auth/status", { credentials: "same-origin" });
      csrf = r.ok ? ((await r.json()).csrf || "") : "";
    } catch (e) {
      csrf = "";
    }
    return csrf;
  }

  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") {
      const t = await token();
      if (t) headers["X-CSRF-Token"] = t;
    }
    const r = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status === 401 && location.pathname !== "/login") {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("logged out");
    }
    let j = null;
    const text = await r.text();
    if (text) { try { j = JSON.parse(text); } catch (e) { j = null; } }
    if (!r.ok) throw new Error((j && j.error) || (r.status + " " + r.statusText));
    return j;
  }

  function say(msg, kind) {
    const s = document.getElementById("status");
    if (!s) return;
    s.className = "notice" + (kind ? " " + kind : "");
    s.textContent = msg;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // Regions of this page, re-read from the server (after a change or an event).
  async function refresh() {
    const r = await fetch(location.href, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    document.querySelectorAll("[data-region]").forEach((el) => {
      const fresh = doc.querySelector('[data-region="' + el.dataset.region + '"]');
      if (fresh && !el.contains(document.activeElement)) el.replaceWith(fresh);
    });
  }

  // ---- live updates
  function live() {
    const sessions = document.querySelector('[data-live="sessions"]');
    const events = document.querySelector('[data-live="events"]');
    const page = document.body.dataset.page;
    if (!sessions && !events && page !== "/sources" && page !== "/channels") return;
    const url = "/web/live" + (sessions ? "?sessions=1" : "");
    let es = new EventSource(url);
    // Closed when the page goes (into the back/forward cache, too): an
    // open stream would hold one of the browser's few connections here.
    addEventListener("pagehide", () => es.close());
    addEventListener("pageshow", (ev) => { if (ev.persisted) { es = new EventSource(url); wire(es); } });
    wire(es);
  }

  function wire(es) {
    const sessions = document.querySelector('[data-live="sessions"]');
    const events = document.querySelector('[data-live="events"]');
    const page = document.body.dataset.page;
    if (sessions) {
      es.addEventListener("sessions", (m) => { sessions.innerHTML = m.data; });
    }
    es.addEventListener("event", (m) => {
      const e = JSON.parse(m.data);
      if (events && events.dataset.firstPage === "true") {
        const wantCh = events.dataset.channel, wantKind = events.dataset.kind;
        if ((!wantCh || wantCh === e.channel) && (!wantKind || wantKind === e.kind)) {
          const t = document.createElement("template");
          t.innerHTML = e.html.trim();
          const row = t.content.firstElementChild;
          row.classList.add("fresh");
          const body = events.tBodies[0];
          body.insertBefore(row, body.firstChild);
          while (body.rows.length > 200) body.deleteRow(-1);
          const empty = document.querySelector("p.empty");
          if (empty) empty.remove();
        }
      }
      if (page === "/sources" && /^sync_/.test(e.kind)) refresh();
      if (page === "/channels" && e.kind === "lineup_built") say("The lineup was rebuilt.", "ok");
    });
  }

  // ---- channels
  function row(el) { return el.closest("tr[data-id]"); }
  const chanUrl = (tr) => "/api/channels/" + encodeURIComponent(tr.dataset.id);

  async function toggle(btn) {
    const tr = row(btn);
    const on = btn.getAttribute("aria-pressed") !== "true";
    const name = tr.querySelector(".name span").textContent;
    btn.disabled = true;
    try {
      await api("PATCH", chanUrl(tr), { enabled: on });
      btn.setAttribute("aria-pressed", String(on));
      btn.textContent = on ? "Enabled" : "Disabled";
      btn.setAttribute("aria-label", (on ? "Disable" : "Enable") + " channel " + tr.dataset.number + " " + name);
      tr.dataset.enabled = String(on);
      say("Channel " + tr.dataset.number + " " + (on ? "enabled" : "disabled") + ".", "ok");
    } catch (e) {
      say("Cannot change channel " + tr.dataset.number + ": " + e.message, "bad");
    } finally {
      btn.disabled = false;
    }
  }

  async function renumber(form) {
    const tr = row(form);
    const number = form.elements.number.value.trim();
    try {
      await api("PATCH", chanUrl(tr), { number });
      say("Channel " + tr.dataset.number + " is now " + number + ".", "ok");
      tr.dataset.number = number;
    } catch (e) {
      say("Cannot renumber channel " + tr.dataset.number + ": " + e.message, "bad");
    }
  }

  async function move(btn, delta) {
    const tr = row(btn);
    const items = Array.from(tr.querySelectorAll("ol.cands > li[data-source-id]"));
    const li = btn.closest("li");
    const i = items.indexOf(li), j = i + delta;
    if (i < 0 || j < 0 || j >= items.length) return;
    const order = items.slice();
    order.splice(j, 0, order.splice(i, 1)[0]);
    try {
      await api("PUT", chanUrl(tr) + "/order",
        order.map((x) => ({ source_id: Number(x.dataset.sourceId), stream_key: x.dataset.key })));
      say("Candidate order saved; the lineup is being rebuilt.", "ok");
      await sleep(300);
      await refresh();
    } catch (e) {
      say("Cannot reorder: " + e.message, "bad");
    }
  }

  async function setMatch(li, guide) {
    const url = "/api/streams/" + encodeURIComponent(li.dataset.sourceId) + "/" +
      encodeURIComponent(li.dataset.key) + "/match";
    try {
      await api("PUT", url, { guide_id: guide });
      say(guide ? "Matched to " + guide + "; the lineup is being rebuilt." : "Manual match cleared.", "ok");
    } catch (e) {
      say("Cannot set the match: " + e.message, "bad");
    }
  }

  async function probe(number, seconds, out) {
    out.textContent = "Testing channel " + number + "…";
    const q = seconds ? "?seconds=" + encodeURIComponent(seconds) : "";
    try {
      const r = await api("POST", "/api/probe/" + encodeURIComponent(number) + q);
      return r;
    } catch (e) {
      out.textContent = "Test failed: " + e.message;
      return null;
    }
  }

  function candidateLine(c) {
    if (!c.report) return "#" + c.tier + " dead: " + (c.reason || "error").replace(/_/g, " ");
    const h = c.report.health;
    let t = "#" + c.tier + " alive";
    if (h.bitrate) t += " " + Math.round(h.bitrate.mean_bps / 1000) + " kb/s";
    if (h.timing_ms && h.timing_ms.first_keyframe != null) t += ", keyframe at " + h.timing_ms.first_keyframe + " ms";
    return t;
  }

  function probeTable(r, out) {
    out.textContent = "";
    const cap = document.createElement("p");
    cap.textContent = "Channel " + r.channel.number + " " + r.channel.name + ": " +
      r.candidates.filter((c) => c.alive).length + " of " + r.candidates.length + " candidates alive.";
    out.appendChild(cap);
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    ["#", "Source", "Status", "First keyframe", "Bitrate", "Media", "Error"].forEach((h) => {
      const th = document.createElement("th"); th.scope = "col"; th.textContent = h; head.appendChild(th);
    });
    const body = table.createTBody();
    r.candidates.forEach((c) => {
      const h = c.report && c.report.health;
      const streams = (c.report && c.report.streams) || [];
      const media = streams.map((s) => [s.codec_type, s.codec_name, s.width && s.height ? s.width + "x" + s.height : ""]
        .filter(Boolean).join(" ")).join(", ");
      const cells = [
        String(c.tier), c.source,
        c.alive ? "alive" + (h.stalls && h.stalls.count ? " (" + h.stalls.count + " stalls)" : "") : "dead: " + (c.reason || "").replace(/_/g, " "),
        h && h.timing_ms.first_keyframe != null ? h.timing_ms.first_keyframe + " ms" : "–",
        h && h.bitrate ? Math.round(h.bitrate.mean_bps / 1000) + " kb/s" : "–",
        media || "–",
        c.error || "",
      ];
      const tr = body.insertRow();
      cells.forEach((v) => { tr.insertCell().textContent = v; });
    });
    const wrap = document.createElement("div");
    wrap.className = "scroll";
    wrap.appendChild(table);
    out.appendChild(wrap);
  }

  // ---- sources
  function fields(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name || el.value.trim() === "") continue;
      body[el.name] = el.type === "number" ? Number(el.value) : (el.name === "password" ? el.value : el.value.trim());
    }
    return body;
  }

  async function waitSync(family, id, out) {
    for (let i = 0; i < 240; i++) {
      await sleep(500);
      let v;
      try { v = await api("GET", "/api/" + family + "/" + id); } catch (e) { break; }
      if (v.state === "syncing") {
        out.className = "result busy";
        out.textContent = "Syncing: " + ((v.progress && v.progress.step) || "…");
        continue;
      }
      if (v.last_sync) {
        out.className = "result" + (v.last_sync.ok ? " ok" : "");
        out.textContent = v.last_sync.ok
          ? "Synced: " + (v.last_sync.count != null ? v.last_sync.count + " items." : "done.")
          : "Sync failed: " + (v.last_sync.message || "no reason given");
        return v.last_sync.ok;
      }
    }
    return false;
  }

  async function saveSource(form) {
    const family = form.dataset.family;
    const out = form.querySelector(".result");
    const body = fields(form);
    const adding = form.dataset.action === "add";
    if (family === "epg-sources" && adding) body.kind = "xmltv";
    out.className = "result busy";
    out.textContent = adding ? "Adding…" : "Saving…";
    try {
      const v = adding
        ? await api("POST", "/api/" + family, body)
        : await api("PUT", "/api/" + family + "/" + form.dataset.id, body);
      if (form.elements.password) form.elements.password.value = "";
      if (adding) {
        out.textContent = "Added " + v.name + "; syncing…";
        await waitSync(family, v.id, out);
        form.querySelectorAll("input").forEach((i) => { if (i.type !== "number") i.value = ""; });
      } else {
        out.className = "result ok";
        out.textContent = "Saved.";
      }
      await refresh();
    } catch (e) {
      out.className = "result";
      out.textContent = e.message;
    }
  }

  async function syncNow(btn) {
    const tr = row(btn);
    btn.disabled = true;
    try {
      await api("POST", "/api/" + tr.dataset.family + "/" + tr.dataset.id + "/sync");
      say("Sync started.", "ok");
      const out = document.createElement("p");
      const ok = await waitSync(tr.dataset.family, tr.dataset.id, out);
      say(out.textContent, ok ? "ok" : "bad");
      await refresh();
    } catch (e) {
      say("Cannot sync: " + e.message, "bad");
    } finally {
      btn.disabled = false;
    }
  }

  async function removeSource(btn) {
    const tr = row(btn);
    const name = tr.querySelector("th").firstChild.textContent;
    if (!window.confirm("Remove " + name + "? Its channels go stale; their numbers stay reserved.")) return;
    try {
      await api("DELETE", "/api/" + tr.dataset.family + "/" + tr.dataset.id);
      tr.remove();
      say("Removed " + name + ".", "ok");
    } catch (e) {
      say("Cannot remove " + name + ": " + e.message, "bad");
    }
  }

  // ---- wiring
  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-action]");
    if (!btn) return;
    const a = btn.dataset.action;
    if (a === "logout") {
      try { await api("POST", "/api/auth/logout"); } catch (e) { /* already out */ }
      location.href = "/login";
    } else if (a === "toggle") toggle(btn);
    else if (a === "up") move(btn, -1);
    else if (a === "down") move(btn, 1);
    else if (a === "suggest") {
      btn.closest("details").querySelector('input[name="guide_id"]').value = btn.dataset.guide;
    } else if (a === "clear-match") setMatch(btn.closest("li"), null);
    else if (a === "probe") {
      const tr = row(btn), out = btn.parentElement.querySelector("output");
      btn.disabled = true;
      const r = await probe(tr.dataset.number, null, out);
      btn.disabled = false;
      if (r) out.textContent = r.candidates.map(candidateLine).join("; ");
    } else if (a === "sync") syncNow(btn);
    else if (a === "remove") removeSource(btn);
    else if (a === "copy") {
      const text = document.getElementById(btn.dataset.target).textContent;
      try { await navigator.clipboard.writeText(text); say("Copied " + text, "ok"); } catch (e) { say("Select and copy: " + text); }
    }
  });

  document.addEventListener("submit", async (ev) => {
    const form = ev.target;
    const a = form.dataset.action;
    if (!a) return;
    ev.preventDefault();
    if (a === "renumber") renumber(form);
    else if (a === "match") setMatch(form.closest("li"), form.elements.guide_id.value.trim());
    else if (a === "add" || a === "edit") saveSource(form);
    else if (a === "probe-form") {
      const out = document.getElementById("probe-report");
      const btn = form.querySelector("button");
      btn.disabled = true;
      const r = await probe(form.elements.number.value.trim(), form.elements.seconds.value, out);
      btn.disabled = false;
      if (r) probeTable(r, out);
    } else if (a === "login") {
      const out = form.querySelector(".result");
      out.textContent = "";
      try {
        const r = await fetch("/api/auth/login", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ password: form.elements.password.value }),
        });
        form.elements.password.value = "";
        if (r.ok) { location.href = form.dataset.next || "/"; return; }
        out.textContent = r.status === 401 ? "Wrong password." : "Cannot log in (" + r.status + ").";
      } catch (e) {
        out.textContent = "Cannot reach the server.";
      }
    }
  });

  // A provider logo that cannot load (no network beyond the box) is hidden.
  document.addEventListener("error", (ev) => {
    if (ev.target && ev.target.tagName === "IMG") ev.target.hidden = true;
  }, true);

  live();
})();
