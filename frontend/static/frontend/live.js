/* Live screens: one websocket per page, reconnecting by itself, re-syncing on every (re)connect.
 *
 * Events only say "something changed"; the page then asks the server for a full snapshot. So a
 * screen that missed events during a blip is whole again as soon as it reconnects, and the banner
 * says when the data may be out of date. Unacknowledged high-risk alerts keep reminding (flashing
 * banner, and a beep where the browser allows sound) until someone, anywhere, acknowledges them.
 */
(function () {
  "use strict";
  var body = document.body;
  var path = body.dataset.socket;
  if (!path) return;

  var root = document.getElementById("live-root");
  var statusBox = document.getElementById("live-status");
  var statusText = document.getElementById("live-text");
  var reminderBox = document.getElementById("reminder");
  var reminderText = document.getElementById("reminder-text");
  var soundToggle = document.getElementById("sound-toggle");
  var openCount = document.getElementById("open-count");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  var REMIND_EVERY_MS = 10000, PING_EVERY_MS = 20000, SILENT_LIMIT_MS = 45000, MAX_BACKOFF_MS = 30000;
  var state = { socket: null, attempt: 0, lastSyncAt: null, lastMessageAt: 0, pending: null,
                syncTimer: null, unacked: {}, audio: null, soundWanted: true, snapshots: 0 };
  window.vwLive = state;

  function clock(date) {
    return date ? date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }) : "page load";
  }

  function setStatus(kind, text) {
    statusBox.className = "live-status " + kind;
    statusText.textContent = text;
    body.dataset.live = kind;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + path);
    state.socket = socket;
    socket.onopen = function () {
      state.attempt = 0;
      state.lastMessageAt = Date.now();
      setStatus("connecting", "Connected – catching up…");
      sync();
    };
    socket.onmessage = function (message) {
      state.lastMessageAt = Date.now();
      var data = JSON.parse(message.data);
      if (data.type === "snapshot") applySnapshot(data);
      else if (data.type === "event") onEvent(data);
    };
    socket.onclose = function (closing) {
      if (state.socket !== socket) return;
      state.socket = null;
      if (closing.code === 4401) {
        /* Signed out (here or elsewhere) or the session expired: leave the patient data behind. */
        location.assign("/accounts/login/?next=" + encodeURIComponent(location.pathname));
        return;
      }
      if (closing.code === 4403) {
        setStatus("stale", "You no longer have access to this screen. Reload or sign in again.");
        return;
      }
      var delay = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, state.attempt)) * (0.8 + Math.random() * 0.4);
      state.attempt += 1;
      setStatus("stale", "Reconnecting… data may be out of date since " + clock(state.lastSyncAt));
      setTimeout(connect, delay);
    };
  }

  function send(message) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
  }

  /* A board's search, filters and sort are in its query string: every snapshot applies them. */
  function sync() {
    send({ type: "sync", query: location.search.replace(/^\?/, "") });
  }
  state.sync = sync;

  function scheduleSync() {
    clearTimeout(state.syncTimer);
    state.syncTimer = setTimeout(sync, 200);
  }

  function applySnapshot(snapshot) {
    if (snapshot.error) { setStatus("stale", "This record is no longer visible to you."); return; }
    state.lastSyncAt = new Date();
    state.snapshots += 1;
    setStatus("live", "Live – updated " + clock(state.lastSyncAt));
    setAlerts(snapshot.alerts || []);
    if (root && typeof snapshot.html === "string") {
      // Never wipe what someone is typing: hold the new HTML until they leave the field.
      var active = document.activeElement;
      if (active && root.contains(active) && /INPUT|SELECT|TEXTAREA/.test(active.tagName)) {
        state.pending = snapshot.html;
      } else {
        render(snapshot.html);
      }
    }
    document.dispatchEvent(new CustomEvent("vw:snapshot", { detail: snapshot }));
  }

  function render(html) {
    state.pending = null;
    // A timeline someone opened, or a refusal they have not read yet, survives the refresh.
    var open = Array.prototype.map.call(root.querySelectorAll("details[data-timeline-for][open]"),
      function (d) { return d.dataset.timelineFor; });
    var errors = {};
    root.querySelectorAll("[data-alert-id] .action-error:not([hidden])").forEach(function (box) {
      errors[box.closest("[data-alert-id]").dataset.alertId] = box.textContent;
    });
    // The board keeps its rows still under the pointer (board.js); other pages take the HTML whole.
    if (!(window.vwBoard && window.vwBoard.render(html))) root.innerHTML = html;
    open.forEach(function (id) {
      var d = root.querySelector('details[data-timeline-for="' + id + '"]');
      if (d) d.open = true;
    });
    Object.keys(errors).forEach(function (id) {
      var box = root.querySelector('[data-alert-id="' + id + '"] .action-error');
      if (box) { box.textContent = errors[id]; box.hidden = false; }
    });
    root.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach(function (input) { input.value = csrf; });
  }

  if (root) {
    root.addEventListener("focusout", function () {
      setTimeout(function () {
        var active = document.activeElement;
        if (state.pending !== null && !(active && root.contains(active))) render(state.pending);
      }, 0);
    });
  }

  function onEvent(event) {
    var alert = event.data || {};
    if ((event.event === "alert.updated" || event.event === "alert.raised") && alert.id) {
      // Acknowledged elsewhere: stop reminding now, before the snapshot arrives.
      if (alert.state !== "open") delete state.unacked[alert.id];
      else if (alert.severity >= 50 && !alert.snoozed_until) state.unacked[alert.id] = describe(alert);
      updateReminder();
    }
    document.dispatchEvent(new CustomEvent("vw:event", { detail: event }));
    scheduleSync();
  }

  function describe(alert) {
    var who = alert.patient && alert.patient.name ? alert.patient.name + " – " : "";
    return who + (alert.headline || alert.title);
  }

  function setAlerts(alerts) {
    state.unacked = {};
    var open = 0;
    alerts.forEach(function (alert) {
      if (alert.state !== "open") return;
      open += 1;
      if (alert.severity >= 50 && !alert.snoozed) {
        state.unacked[alert.id] = (alert.patient_name ? alert.patient_name + " – " : "") + (alert.headline || alert.title);
      }
    });
    if (openCount) { openCount.textContent = String(open); openCount.hidden = open === 0; }
    updateReminder();
  }

  function updateReminder() {
    var titles = Object.keys(state.unacked).map(function (id) { return state.unacked[id]; });
    reminderBox.hidden = titles.length === 0;
    body.dataset.reminding = titles.length ? "true" : "false";
    if (titles.length) {
      reminderText.textContent = (titles.length === 1 ? "High-risk alert not acknowledged: "
        : titles.length + " high-risk alerts not acknowledged: ") + titles.join("; ");
      document.title = "⚠ " + document.title.replace(/^⚠ /, "");
    } else {
      document.title = document.title.replace(/^⚠ /, "");
    }
  }

  /* Sound: browsers block audio until the user interacts with the page. We try, and if the
     context stays suspended the banner offers a button; the flashing banner works regardless. */
  function audioContext() {
    if (!state.audio) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      try { state.audio = new Ctx(); } catch (e) { return null; }
    }
    return state.audio;
  }

  function beep() {
    var ctx = audioContext();
    if (!ctx || !state.soundWanted) return;
    if (ctx.state === "suspended") { ctx.resume().catch(function () {}); }
    soundToggle.textContent = ctx.state === "running" ? "Mute sound" : "Turn sound on";
    if (ctx.state !== "running") return;
    [0, 0.25].forEach(function (offset) {
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, ctx.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + offset + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + offset);
      osc.stop(ctx.currentTime + offset + 0.2);
    });
  }

  soundToggle.addEventListener("click", function () {
    var ctx = audioContext();
    if (ctx && ctx.state !== "running") { state.soundWanted = true; ctx.resume().then(beep).catch(function () {}); }
    else { state.soundWanted = !state.soundWanted; }
    soundToggle.textContent = state.soundWanted ? "Mute sound" : "Turn sound on";
  });
  document.addEventListener("pointerdown", function () {
    var ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(function () {});
  }, { once: true });

  setInterval(function () { if (Object.keys(state.unacked).length) beep(); }, REMIND_EVERY_MS);

  /* "waiting 12 min" on each card keeps counting between snapshots. */
  var renderedAt = Date.now();
  document.addEventListener("vw:snapshot", function () { renderedAt = Date.now(); });
  setInterval(function () {
    document.querySelectorAll(".waiting[data-waiting-s]").forEach(function (el) {
      var s = Number(el.dataset.waitingS) + (Date.now() - renderedAt) / 1000;
      var m = Math.floor(s / 60), h = Math.floor(m / 60);
      el.textContent = "waiting " + (s < 60 ? Math.round(s) + " s" : m < 60 ? m + " min" : h + " h " + (m % 60) + " min");
    });
  }, 15000);

  /* A socket can die silently (sleeping laptop, mobile network): ping, and if nothing comes
     back, close it so the reconnect path runs. */
  setInterval(function () {
    if (!state.socket) return;
    if (Date.now() - state.lastMessageAt > SILENT_LIMIT_MS) { state.socket.close(); return; }
    send({ type: "ping" });
  }, PING_EVERY_MS);

  /* Triage actions: the same POST forms, sent with fetch so the queue stays in place. */
  if (root) {
    root.addEventListener("submit", function (event) {
      var form = event.target;
      if (!/\/triage\/alerts\//.test(form.action)) return;
      event.preventDefault();
      var card = form.closest("[data-alert-id]");
      var errorBox = card && card.querySelector(".action-error");
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
                           headers: { Accept: "application/json", "X-CSRFToken": csrf } })
        .then(function (response) {
          return response.text().then(function (text) {
            var data;
            try { data = JSON.parse(text); } catch (e) { data = { error: "The server answered " + response.status + ": " + text.slice(0, 200) }; }
            return [response, data];
          });
        })
        .then(function (result) {
          if (!result[0].ok) throw new Error(result[1].error || "That did not work.");
          if (errorBox) errorBox.hidden = true;
          if (result[1].alert && result[1].alert.state !== "open") { delete state.unacked[result[1].alert.id]; updateReminder(); }
          scheduleSync();
        })
        .catch(function (error) {
          if (errorBox) { errorBox.textContent = error.message; errorBox.hidden = false; }
          form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
        });
    });
    root.addEventListener("change", function (event) {
      if (event.target.matches("[data-submit-on-change]") && event.target.value) event.target.form.requestSubmit();
    });
  }

  connect();
})();
