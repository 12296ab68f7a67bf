/* Patient charts laid out like the NEWS2 observation chart: one strip per vital sign, in the
 * chart's order, on a shared time axis, with the scoring bands shaded behind the values.
 *
 * Hand-written SVG, no library (docs/dashboard.md says why). Each strip is drawn at its real
 * pixel size and redrawn when that changes, never stretched: a dot stays round on a phone.
 * Every strip has a value axis and its newest value written in its heading; every reading is
 * reachable without a mouse: Tab to a strip's newest point, arrow keys along it (Home/End),
 * a tap anywhere on a strip picks the nearest reading. The same data is one click away as a
 * table. Honesty rules: a gap longer than the device's expected interval breaks the line;
 * periods the device was silent are hatched; late readings get a hollow square; manual ones a
 * triangle; rejected readings are listed on demand in plain words.
 */
(function () {
  "use strict";
  var box = document.getElementById("charts");
  if (!box) return;
  var NS = "http://www.w3.org/2000/svg";
  var H = 96, PAD = 8, GUTTER = 40, RIGHT = 10;

  // [low, high, score] bands (RCP NEWS2 2017, chart 1), the y range shown and the axis ticks.
  var ROWS = [
    { key: "respiratory_rate", label: "Respiration rate", unit: "/min", min: 4, max: 36, ticks: [8, 12, 21, 25],
      bands: [[0, 8.5, 3], [8.5, 11.5, 1], [11.5, 20.5, 0], [20.5, 24.5, 2], [24.5, 99, 3]] },
    { key: "spo2", label: "SpO₂ (Scale 1)", unit: "%", min: 80, max: 100, scale: 1, ticks: [85, 92, 96, 100],
      bands: [[0, 91.5, 3], [91.5, 93.5, 2], [93.5, 95.5, 1], [95.5, 101, 0]] },
    { key: "spo2", label: "SpO₂ (Scale 2, target 88–92)", unit: "%", min: 78, max: 100, scale: 2, ticks: [84, 88, 92, 97],
      bands: [[0, 83.5, 3], [83.5, 85.5, 2], [85.5, 87.5, 1], [87.5, 92.5, 0], [92.5, 94.5, 1], [94.5, 96.5, 2], [96.5, 101, 3]] },
    { key: "on_oxygen", label: "Air or oxygen?", unit: "", min: -0.5, max: 1.5, words: ["Air", "O₂"], ticks: [0, 1],
      bands: [[-1, 0.5, 0], [0.5, 2, 2]] },
    { key: "systolic_bp", label: "Systolic BP", unit: "mmHg", min: 60, max: 240, ticks: [90, 140, 220],
      bands: [[0, 90.5, 3], [90.5, 100.5, 2], [100.5, 110.5, 1], [110.5, 219.5, 0], [219.5, 999, 3]] },
    { key: "heart_rate", label: "Pulse", unit: "/min", min: 30, max: 150, ticks: [40, 70, 90, 110, 130],
      bands: [[0, 40.5, 3], [40.5, 50.5, 1], [50.5, 90.5, 0], [90.5, 110.5, 1], [110.5, 130.5, 2], [130.5, 999, 3]] },
    { key: "consciousness", label: "Consciousness", unit: "", min: -0.5, max: 4.5, levels: "ACVPU", ticks: [0, 1, 2, 3, 4],
      bands: [[-1, 0.5, 0], [0.5, 5, 3]] },
    { key: "temperature", label: "Temperature", unit: "°C", min: 34, max: 40.5, ticks: [35, 36, 38, 39, 40],
      bands: [[0, 35.05, 3], [35.05, 36.05, 1], [36.05, 38.05, 0], [38.05, 39.05, 1], [39.05, 99, 2]] },
    { key: "news2", label: "NEWS2 total", unit: "", min: 0, max: 20, ticks: [0, 5, 7, 15, 20],
      bands: [[-1, 4.5, 0], [4.5, 6.5, 2], [6.5, 99, 3]] },
  ];
  var last = null, lastWidth = 0;

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function numeric(row, value) {
    if (row.levels) return row.levels.indexOf(value);
    if (value === true) return 1;
    if (value === false) return 0;
    return Number(value);
  }

  function shown(row, value) {
    if (row.words) return row.words[numeric(row, value)] || String(value);
    if (row.levels) return String(value);
    return String(value) + (row.unit ? " " + row.unit : "");
  }

  function when(t, long) {
    var d = new Date(t);
    var today = new Date().toDateString() === d.toDateString();
    var opts = { hour: "2-digit", minute: "2-digit" };
    if (!today || long) { opts.weekday = "short"; opts.day = "numeric"; opts.month = "short"; }
    return d.toLocaleString("en-GB", opts);
  }

  function describe(row, p) {
    return row.label + " " + shown(row, p.v) + " at " + when(p.t, true) +
      (p.late ? ", late reading" : "") + (p.manual ? ", entered by a clinician" : "");
  }

  function pointsOf(data, row) {
    return row.key === "news2" ? data.scores : (data.series[row.key] || []);
  }

  function draw(data) {
    // A live update redraws the chart: a keyboard user reading a value keeps their place.
    var active = document.activeElement, keep = null;
    if (active && active.classList && active.classList.contains("point") && box.contains(active)) {
      keep = { vital: active.closest(".chart-row").dataset.vital, t: active.dataset.t };
    }
    last = data;
    box.innerHTML = "";
    var width = plotWidth();
    lastWidth = box.clientWidth;
    var t0 = Date.parse(data.since), t1 = Date.parse(data.until);
    var plot = width - GUTTER - RIGHT;
    var x = function (t) { return GUTTER + ((Date.parse(t) - t0) / (t1 - t0)) * plot; };
    // A reading further than this from the one before is not joined to it: the gap is real.
    var gapMs = Math.max(2 * (data.expected_interval_s || 4 * 3600), 600) * 1000;
    ROWS.forEach(function (row) {
      if (row.scale && row.scale !== data.spo2_scale) return;
      box.appendChild(strip(data, row, pointsOf(data, row), width, x, gapMs));
    });
    box.appendChild(axis(t0, t1, width, x));
    if (data.cut_from) {
      var note = document.createElement("p");
      note.className = "incomplete";
      note.textContent = "This period holds more readings than one chart draws: showing from " + when(data.since, true) +
        ". Choose a shorter period for earlier readings.";
      box.insertBefore(note, box.firstChild);
    }
    drawTable(data);
    drawRejections(data.rejections || []);
    if (keep) {
      var again = box.querySelector('.chart-row[data-vital="' + keep.vital + '"] .point[data-t="' + keep.t + '"]');
      if (again) again.dispatchEvent(new CustomEvent("vw:pick", { bubbles: true }));
    }
  }

  function plotWidth() {
    // The chart column's real width (beside the heading on a desktop, under it on a phone),
    // measured from a probe row laid out by the same CSS.
    var probe = document.createElement("div");
    probe.className = "chart-row";
    probe.innerHTML = "<div class='chart-label'></div><div></div>";
    box.appendChild(probe);
    var width = probe.lastChild.getBoundingClientRect().width;
    box.removeChild(probe);
    return Math.max(200, Math.floor(width));
  }

  function strip(data, row, points, width, x, gapMs) {
    var wrap = document.createElement("div");
    wrap.className = "chart-row";
    wrap.dataset.vital = row.key;
    var head = document.createElement("div");
    head.className = "chart-label";
    var newest = points.length ? points[points.length - 1] : null;
    var name = document.createElement("span");
    name.className = "chart-name";
    name.textContent = row.label;
    var latest = document.createElement("span");
    latest.className = "chart-latest";
    latest.textContent = newest ? shown(row, newest.v) : "no readings";
    var at = document.createElement("small");
    at.textContent = newest ? "newest, " + when(newest.t) + " · " + points.length + " in period" : "in this period";
    var picked = document.createElement("small");
    picked.className = "chart-picked";
    head.appendChild(name); head.appendChild(latest); head.appendChild(at); head.appendChild(picked);
    wrap.appendChild(head);

    var svg = el("svg", { width: width, height: H, viewBox: "0 0 " + width + " " + H, role: "group",
      "aria-label": row.label + " chart, " + points.length + " readings" +
        (points.length ? "; arrow keys move between readings" : "") });
    var defs = el("defs", {}, svg);
    var hatch = el("pattern", { id: "hatch-" + row.key, width: 8, height: 8, patternUnits: "userSpaceOnUse",
                                patternTransform: "rotate(45)" }, defs);
    el("rect", { width: 4, height: 8, fill: "#9aa5ab" }, hatch);
    var y = function (v) { return H - PAD - ((v - row.min) / (row.max - row.min)) * (H - 2 * PAD); };
    row.bands.forEach(function (b) {
      var top = y(Math.min(b[1], row.max)), bottom = y(Math.max(b[0], row.min));
      if (bottom > top) el("rect", { x: GUTTER, y: top, width: width - GUTTER - RIGHT, height: bottom - top, "class": "band-" + b[2] }, svg);
    });
    valueAxis(svg, row, y);
    (data.gaps || []).forEach(function (g) {
      var gx = Math.max(GUTTER, x(g.start)), gx2 = g.end ? Math.min(width - RIGHT, x(g.end)) : width - RIGHT;
      if (gx2 > gx) {
        var r = el("rect", { x: gx, y: 0, width: gx2 - gx, height: H, "class": "gap", fill: "url(#hatch-" + row.key + ")" }, svg);
        el("title", {}, r).textContent = "No data: " + g.cause;
      }
    });
    drawLine(svg, row, points, x, y, gapMs, picked);
    wrap.appendChild(svg);
    return wrap;
  }

  function valueAxis(svg, row, y) {
    el("line", { x1: GUTTER, x2: GUTTER, y1: PAD / 2, y2: H - PAD / 2, "class": "y-axis" }, svg);
    row.ticks.forEach(function (v) {
      var ty = y(v);
      el("line", { x1: GUTTER - 4, x2: GUTTER, y1: ty, y2: ty, "class": "y-axis" }, svg);
      var text = el("text", { x: GUTTER - 6, y: ty + 4, "text-anchor": "end", "class": "tick" }, svg);
      text.textContent = row.words ? row.words[v] : row.levels ? row.levels[v] : String(v);
    });
  }

  function drawLine(svg, row, points, x, y, gapMs, picked) {
    var d = "", prev = null;
    points.forEach(function (p) {
      var v = numeric(row, p.v);
      if (isNaN(v) || v < 0 && row.levels) return;
      var cmd = prev !== null && Date.parse(p.t) - prev <= gapMs ? "L" : "M";
      d += cmd + x(p.t).toFixed(1) + "," + y(Math.max(row.min, Math.min(row.max, v))).toFixed(1);
      prev = Date.parse(p.t);
    });
    if (d) el("path", { d: d, "class": "line" }, svg);
    var marks = [];
    points.forEach(function (p) {
      var v = numeric(row, p.v);
      if (isNaN(v)) return;
      var px = x(p.t), py = y(Math.max(row.min, Math.min(row.max, v)));
      var g = el("g", { "class": "point", tabindex: "-1", role: "img", "aria-label": describe(row, p) }, svg);
      g.dataset.x = px;
      g.dataset.t = p.t;
      el("circle", { cx: px, cy: py, r: 9, "class": "focus-ring" }, g);
      var mark;
      if (p.late) mark = el("rect", { x: px - 4, y: py - 4, width: 8, height: 8, "class": "pt-late" }, g);
      else if (p.manual) mark = el("path", { d: "M" + px + " " + (py - 5) + " l5 9 h-10 z", "class": "pt-manual" }, g);
      else mark = el("circle", { cx: px, cy: py, r: 3.5, "class": "pt" }, g);
      mark.setAttribute("data-late", p.late ? "true" : "false");
      g.addEventListener("focus", function () { picked.textContent = "Selected: " + shown(row, p.v) + " at " + when(p.t, true); });
      marks.push(g);
    });
    if (!marks.length) return;
    // One tab stop per strip (the newest reading); arrows move along it (roving tabindex).
    marks[marks.length - 1].setAttribute("tabindex", "0");
    function go(i) {
      i = Math.max(0, Math.min(marks.length - 1, i));
      marks.forEach(function (m, j) { m.setAttribute("tabindex", j === i ? "0" : "-1"); });
      marks[i].focus();
    }
    svg.addEventListener("keydown", function (e) {
      var i = marks.indexOf(document.activeElement);
      if (i < 0) return;
      var step = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 }[e.key];
      if (step) go(i + step);
      else if (e.key === "Home") go(0);
      else if (e.key === "End") go(marks.length - 1);
      else if (e.key === "PageUp" || e.key === "PageDown") go(i + (e.key === "PageUp" ? -10 : 10));
      else return;
      e.preventDefault();
    });
    svg.addEventListener("vw:pick", function (e) { go(marks.indexOf(e.target)); });
    // A tap (or click) anywhere on the strip picks the nearest reading in time.
    svg.addEventListener("pointerdown", function (e) {
      var at = e.clientX - svg.getBoundingClientRect().left, best = 0;
      marks.forEach(function (m, j) { if (Math.abs(m.dataset.x - at) < Math.abs(marks[best].dataset.x - at)) best = j; });
      e.preventDefault();
      go(best);
    });
  }

  function axis(t0, t1, width, x) {
    var wrap = document.createElement("div");
    wrap.className = "chart-row axis";
    wrap.setAttribute("aria-hidden", "true");
    wrap.appendChild(document.createElement("div"));
    var svg = el("svg", { width: width, height: 22, viewBox: "0 0 " + width + " 22" });
    var count = Math.max(2, Math.floor((width - GUTTER) / 110));
    var long = t1 - t0 > 24 * 3600 * 1000;
    for (var i = 0; i <= count; i++) {
      var t = t0 + (i / count) * (t1 - t0), tx = x(new Date(t).toISOString());
      var anchor = i === 0 ? "start" : i === count ? "end" : "middle";
      var text = el("text", { x: tx, y: 15, "text-anchor": anchor, "class": "tick" }, svg);
      text.textContent = new Date(t).toLocaleString("en-GB", long
        ? { weekday: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
        : { hour: "2-digit", minute: "2-digit" });
    }
    wrap.appendChild(svg);
    return wrap;
  }

  function drawTable(data) {
    // The paper chart's layout: one column per time, one row per vital sign. Rows here are
    // times (newest first) so a phone scrolls down, not sideways.
    var rows = ROWS.filter(function (r) { return !r.scale || r.scale === data.spo2_scale; });
    var byTime = {};
    rows.forEach(function (row) {
      pointsOf(data, row).forEach(function (p) {
        var cell = byTime[p.t] = byTime[p.t] || {};
        cell[row.label] = shown(row, p.v) + (p.late ? " (late)" : "") + (p.manual ? " (entered)" : "");
      });
    });
    var times = Object.keys(byTime).sort().reverse();
    var target = document.getElementById("chart-table");
    var html = "<table class='readings'><caption>Readings " + esc(when(data.since, true)) + " to " +
      esc(when(data.until, true)) + " (" + times.length + " times)</caption><thead><tr><th scope='col'>Time</th>";
    rows.forEach(function (r) { html += "<th scope='col'>" + esc(r.label) + "</th>"; });
    html += "</tr></thead><tbody>";
    times.forEach(function (t) {
      html += "<tr><th scope='row'>" + esc(when(t, true)) + "</th>";
      rows.forEach(function (r) {
        var v = byTime[t][r.label];
        html += "<td data-label='" + esc(r.label) + "'>" + (v ? esc(v) : "<span class='muted'>—</span>") + "</td>";
      });
      html += "</tr>";
    });
    if (!times.length) html += "<tr><td colspan='" + (rows.length + 1) + "'>No readings in this period.</td></tr>";
    target.innerHTML = html + "</tbody></table>";
  }

  function drawRejections(rows) {
    var target = document.getElementById("rejections");
    var wanted = document.getElementById("show-rejected").checked;
    target.hidden = !wanted;
    if (!wanted) return;
    if (!rows.length) { target.innerHTML = "<p class='muted'>No rejected readings in this period.</p>"; return; }
    var html = "<h3>Rejected readings (not used for scoring)</h3><ul class='plain rejected'>";
    rows.forEach(function (r) {
      html += "<li><strong>" + esc(when(r.received_at, true)) + "</strong> – " + esc(r.plain) +
        "<details><summary>Technical detail</summary><p>Device " + esc(r.device) + ", message " + esc(r.msg_id) +
        (r.index === null ? " (whole message)" : " item " + r.index) + ": <code>" + esc(r.reason) + "</code></p></details></li>";
    });
    target.innerHTML = html + "</ul>";
  }

  function esc(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function load() {
    var params = new URLSearchParams({ period: document.getElementById("period").value });
    if (document.getElementById("show-rejected").checked) params.set("rejections", "1");
    fetch(box.dataset.seriesUrl + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("Chart data could not be loaded (" + r.status + ")."); return r.json(); })
      .then(draw)
      .catch(function (e) { box.innerHTML = "<p class='error'>" + esc(e.message) + "</p>"; });
  }

  var toggle = document.getElementById("table-toggle");
  toggle.addEventListener("click", function () {
    var table = document.getElementById("chart-table");
    table.hidden = !table.hidden;
    toggle.setAttribute("aria-expanded", String(!table.hidden));
    toggle.textContent = table.hidden ? "Show the readings as a table" : "Hide the table";
  });
  document.getElementById("period").addEventListener("change", load);
  document.getElementById("show-rejected").addEventListener("change", load);
  var timer = null, resizing = null;
  document.addEventListener("vw:event", function () { clearTimeout(timer); timer = setTimeout(load, 500); });
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { if (last && box.clientWidth !== lastWidth) draw(last); }, 150);
  });
  load();
})();
