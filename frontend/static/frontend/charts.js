/* Patient charts laid out like the NEWS2 observation chart: one strip per vital sign, in the
 * chart's order, on a shared time axis, with the scoring bands shaded behind the values.
 * Honesty rules: a gap longer than the device's expected interval breaks the line; periods the
 * device was silent are hatched; late readings get a hollow square; rejected readings are
 * listed on demand. Hand-written SVG, no library.
 */
(function () {
  "use strict";
  var box = document.getElementById("charts");
  if (!box) return;
  var NS = "http://www.w3.org/2000/svg";
  var W = 1000, H = 90, PAD = 4;

  // [low, high, score] bands (RCP NEWS2 2017, chart 1), and the y range shown.
  var ROWS = [
    { key: "respiratory_rate", label: "Respiration rate", unit: "/min", min: 4, max: 36,
      bands: [[0, 8.5, 3], [8.5, 11.5, 1], [11.5, 20.5, 0], [20.5, 24.5, 2], [24.5, 99, 3]] },
    { key: "spo2", label: "SpO₂ Scale 1", unit: "%", min: 80, max: 100, scale: 1,
      bands: [[0, 91.5, 3], [91.5, 93.5, 2], [93.5, 95.5, 1], [95.5, 101, 0]] },
    { key: "spo2", label: "SpO₂ Scale 2", unit: "% (target 88–92)", min: 78, max: 100, scale: 2,
      bands: [[0, 83.5, 3], [83.5, 85.5, 2], [85.5, 87.5, 1], [87.5, 92.5, 0], [92.5, 94.5, 1], [94.5, 96.5, 2], [96.5, 101, 3]] },
    { key: "on_oxygen", label: "Air or oxygen?", unit: "0 air · 1 O₂", min: -0.5, max: 1.5, bands: [[-1, 0.5, 0], [0.5, 2, 2]] },
    { key: "systolic_bp", label: "Systolic BP", unit: "mmHg", min: 60, max: 240,
      bands: [[0, 90.5, 3], [90.5, 100.5, 2], [100.5, 110.5, 1], [110.5, 219.5, 0], [219.5, 999, 3]] },
    { key: "heart_rate", label: "Pulse", unit: "/min", min: 30, max: 150,
      bands: [[0, 40.5, 3], [40.5, 50.5, 1], [50.5, 90.5, 0], [90.5, 110.5, 1], [110.5, 130.5, 2], [130.5, 999, 3]] },
    { key: "consciousness", label: "Consciousness", unit: "A C V P U", min: -0.5, max: 4.5, levels: "ACVPU",
      bands: [[-1, 0.5, 0], [0.5, 5, 3]] },
    { key: "temperature", label: "Temperature", unit: "°C", min: 34, max: 40.5,
      bands: [[0, 35.05, 3], [35.05, 36.05, 1], [36.05, 38.05, 0], [38.05, 39.05, 1], [39.05, 99, 2]] },
    { key: "news2", label: "NEWS2 total", unit: "", min: 0, max: 20, bands: [[-1, 4.5, 0], [4.5, 6.5, 2], [6.5, 99, 3]] },
  ];

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

  function draw(data) {
    box.innerHTML = "";
    var t0 = Date.parse(data.since), t1 = Date.parse(data.until);
    var x = function (t) { return ((Date.parse(t) - t0) / (t1 - t0)) * W; };
    // A reading further than this from the one before is not joined to it: the gap is real.
    var gapMs = Math.max(2 * (data.expected_interval_s || 4 * 3600), 600) * 1000;
    ROWS.forEach(function (row) {
      if (row.scale && row.scale !== data.spo2_scale) return;
      var points = row.key === "news2" ? data.scores : (data.series[row.key] || []);
      var wrap = document.createElement("div");
      wrap.className = "chart-row";
      wrap.dataset.vital = row.key;
      var label = document.createElement("div");
      label.className = "chart-label";
      label.innerHTML = row.label + "<small>" + row.unit + " · " + points.length + " readings</small>";
      wrap.appendChild(label);
      var svg = el("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
                            "aria-label": row.label + ": " + points.length + " readings in the period" });
      var defs = el("defs", {}, svg);
      var hatch = el("pattern", { id: "hatch", width: 8, height: 8, patternUnits: "userSpaceOnUse",
                                  patternTransform: "rotate(45)" }, defs);
      el("rect", { width: 4, height: 8, fill: "#9aa5ab" }, hatch);
      var y = function (v) { return H - PAD - ((v - row.min) / (row.max - row.min)) * (H - 2 * PAD); };
      row.bands.forEach(function (b) {
        var top = y(Math.min(b[1], row.max)), bottom = y(Math.max(b[0], row.min));
        if (bottom > top) el("rect", { x: 0, y: top, width: W, height: bottom - top, "class": "band-" + b[2] }, svg);
      });
      (data.gaps || []).forEach(function (g) {
        var gx = Math.max(0, x(g.start)), gx2 = g.end ? Math.min(W, x(g.end)) : W;
        if (gx2 > gx) {
          var r = el("rect", { x: gx, y: 0, width: gx2 - gx, height: H, "class": "gap" }, svg);
          el("title", {}, r).textContent = "No data: " + g.cause;
        }
      });
      drawLine(svg, row, points, x, y, gapMs);
      wrap.appendChild(svg);
      box.appendChild(wrap);
    });
    box.appendChild(axis(t0, t1));
    drawRejections(data.rejections || []);
  }

  function drawLine(svg, row, points, x, y, gapMs) {
    var d = "", prev = null;
    points.forEach(function (p) {
      var v = numeric(row, p.v);
      if (isNaN(v) || v < 0 && row.levels) return;
      var cmd = prev !== null && Date.parse(p.t) - prev <= gapMs ? "L" : "M";
      d += cmd + x(p.t).toFixed(1) + "," + y(Math.max(row.min, Math.min(row.max, v))).toFixed(1);
      prev = Date.parse(p.t);
    });
    if (d) el("path", { d: d, "class": "line" }, svg);
    points.forEach(function (p) {
      var v = numeric(row, p.v);
      if (isNaN(v)) return;
      var px = x(p.t), py = y(Math.max(row.min, Math.min(row.max, v))), mark;
      if (p.late) mark = el("rect", { x: px - 4, y: py - 4, width: 8, height: 8, "class": "pt-late" }, svg);
      else if (p.manual) mark = el("path", { d: "M" + px + " " + (py - 5) + " l5 9 h-10 z", "class": "pt-manual" }, svg);
      else mark = el("circle", { cx: px, cy: py, r: 3, "class": "pt" }, svg);
      mark.setAttribute("data-late", p.late ? "true" : "false");
      el("title", {}, mark).textContent = new Date(p.t).toLocaleString("en-GB") + ": " + p.v +
        (p.late ? " (late reading)" : "") + (p.manual ? " (entered by a clinician)" : "");
    });
  }

  function axis(t0, t1) {
    var wrap = document.createElement("div");
    wrap.className = "chart-row axis";
    wrap.appendChild(document.createElement("div"));
    var svg = el("svg", { viewBox: "0 0 " + W + " 20", preserveAspectRatio: "none", "aria-hidden": "true" });
    svg.style.height = "20px";
    for (var i = 0; i <= 6; i++) {
      var t = t0 + (i / 6) * (t1 - t0);
      var text = el("text", { x: Math.min(W - 60, (i / 6) * W), y: 14 }, svg);
      text.textContent = new Date(t).toLocaleString("en-GB", { weekday: "short", hour: "2-digit", minute: "2-digit" });
    }
    wrap.appendChild(svg);
    return wrap;
  }

  function drawRejections(rows) {
    var target = document.getElementById("rejections");
    var wanted = document.getElementById("show-rejected").checked;
    target.hidden = !wanted;
    if (!wanted) return;
    if (!rows.length) { target.innerHTML = "<p class='muted'>No rejected readings in this period.</p>"; return; }
    var html = "<h3>Rejected readings</h3><table><thead><tr><th>Received</th><th>Device</th><th>Message</th>" +
      "<th>Reason</th></tr></thead><tbody>";
    rows.forEach(function (r) {
      html += "<tr><td>" + new Date(r.received_at).toLocaleString("en-GB") + "</td><td>" + esc(r.device) +
        "</td><td>" + esc(r.msg_id) + (r.index === null ? " (whole message)" : " #" + r.index) + "</td><td>" +
        esc(r.reason) + "</td></tr>";
    });
    target.innerHTML = html + "</tbody></table>";
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

  document.getElementById("period").addEventListener("change", load);
  document.getElementById("show-rejected").addEventListener("change", load);
  var timer = null;
  document.addEventListener("vw:event", function () { clearTimeout(timer); timer = setTimeout(load, 500); });
  load();
})();
