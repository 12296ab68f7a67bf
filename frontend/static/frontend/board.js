/* The ward board's search, filters, sort and view, and rows that do not jump under the pointer.
 *
 * The board's state is its URL: every change of the form rewrites the query string (so a copy of
 * the address is a bookmark of the board as seen) and asks the live socket for a snapshot with
 * that query; the server filters and sorts, exactly as it does for the first page load. Without
 * this script the same form is a plain GET form with an Apply button.
 *
 * Stable order: while the pointer is over the list or focus is in it, a live snapshot updates
 * every row in place but keeps the order on screen; rows that moved, arrived or left are counted
 * in a "n changes – re-sort" bar. The new order is applied when the pointer and focus leave the
 * list, when the bar's button is pressed, or after IDLE_MS without the pointer moving (a mouse
 * left resting on a wall board must not freeze its order for ever).
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var root = document.getElementById("live-root");
  var form = document.getElementById("board-tools");
  var bar = document.getElementById("resort");
  if (!root || !form) return;

  var IDLE_MS = 20000, TYPE_DELAY_MS = 250;
  var board = { urgent: false, pointerIn: false, lastMove: 0, pending: null, force: false, idleTimer: null, typingTimer: null };
  window.vwBoard = board;

  function queryString() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      value = String(value).trim();
      if (!value) return;
      if (key === "sort" && value === "sickest") return;
      if (key === "view" && value === "compact") return;
      params.append(key, value);
    });
    return params.toString();
  }

  function applyForm() {
    var query = queryString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
    var view = form.querySelector('input[name="view"]:checked');
    root.dataset.view = view ? view.value : "compact";
    var carry = new URLSearchParams(query);
    carry.delete("ward");
    document.querySelectorAll(".ward-picker a").forEach(function (link) {
      var url = new URL(link.href);
      url.search = carry.toString();
      link.href = url.toString();
    });
    var summary = form.querySelector(".filters summary");
    var count = Array.prototype.filter.call(form.querySelectorAll(".filter-panel fieldset"), function (set) {
      return set.querySelector("input:checked") || (set.querySelector("select") && set.querySelector("select").value);
    }).length;
    if (summary) summary.innerHTML = "Filters" + (count ? ' <span class="count-on">(' + count + " on)</span>" : "");
    board.force = true;  // the person asked for this order: apply it at once
    if (window.vwLive && window.vwLive.sync) window.vwLive.sync();
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "q") return;
    applyForm();
  });
  form.addEventListener("input", function (event) {
    if (event.target.name !== "q") return;
    clearTimeout(board.typingTimer);
    board.typingTimer = setTimeout(applyForm, TYPE_DELAY_MS);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(board.typingTimer);
    applyForm();
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-clear-filters]");
    if (!link) return;
    event.preventDefault();
    form.querySelectorAll('input[type="checkbox"]').forEach(function (box) { box.checked = false; });
    form.querySelectorAll(".filter-panel select").forEach(function (select) { select.value = ""; });
    form.querySelector('input[name="q"]').value = "";
    applyForm();
  });

  /* The filter and key panels drop down over the list: Escape or a click elsewhere folds them. */
  var panels = form.querySelectorAll("details");
  document.addEventListener("click", function (event) {
    panels.forEach(function (panel) { if (panel.open && !panel.contains(event.target)) panel.open = false; });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    panels.forEach(function (panel) {
      if (!panel.open) return;
      panel.open = false;
      if (panel.contains(document.activeElement)) panel.querySelector("summary").focus();
    });
  });

  /* Holding the order while someone is pointing at or working in the list. */
  root.addEventListener("pointerenter", function () { board.pointerIn = true; board.lastMove = Date.now(); });
  root.addEventListener("pointermove", function () { board.pointerIn = true; board.lastMove = Date.now(); });
  root.addEventListener("pointerleave", function () { board.pointerIn = false; setTimeout(releaseIfFree, 0); });
  root.addEventListener("focusout", function () { setTimeout(releaseIfFree, 0); });
  if (bar) bar.querySelector("button").addEventListener("click", release);

  function holding() {
    var active = document.activeElement;
    var focused = active && active !== root && root.contains(active);
    var pointing = board.pointerIn && Date.now() - board.lastMove < IDLE_MS;
    return focused || pointing;
  }

  function releaseIfFree() {
    if (board.pending !== null && !holding()) release();
  }

  function release() {
    var html = board.pending;
    board.pending = null;
    board.urgent = false;
    if (bar) bar.hidden = true;
    if (html === null) return;
    var key = focusKey();
    root.innerHTML = html;
    restoreFocus(key);
  }

  function rowsOf(container) {
    var table = container.querySelector("table.board");
    return table ? Array.prototype.slice.call(table.tBodies[0].rows) : null;
  }

  /* How many rows must move to reach the new order: those outside the longest run already in
     order (one patient rising to the top is one change, not a shift of everyone below). */
  function longestRising(positions) {
    var tails = [];
    positions.forEach(function (value) {
      var low = 0, high = tails.length;
      while (low < high) { var mid = (low + high) >> 1; if (tails[mid] < value) low = mid + 1; else high = mid; }
      tails[low] = value;
    });
    return tails.length;
  }

  /* A snapshot replaces the rows' HTML; keyboard focus goes back to the same link in the same
     patient's row, so a keyboard user is neither thrown to the top of the page nor released
     from the held order by the update itself. */
  function focusKey() {
    var active = document.activeElement;
    if (!active || active === root || !root.contains(active)) return null;
    var row = active.closest("tr[data-patient-id]");
    if (!row) return null;
    var selector = active.dataset.alertId ? '[data-alert-id="' + active.dataset.alertId + '"]' : "a.patient-name";
    return '#live-root tr[data-patient-id="' + row.dataset.patientId + '"] ' + selector;
  }

  function restoreFocus(key) {
    var target = key && document.querySelector(key);
    if (target) target.focus({ preventScroll: true });
  }

  /* Called by live.js for every snapshot; true when it has put the HTML in place itself. */
  board.render = function (html) {
    var key = focusKey();
    var done = place(html);
    restoreFocus(key);
    return done;
  };

  function place(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = rowsOf(template.content), shown = rowsOf(root);
    var sameView = fresh && shown && template.content.querySelector("table.board").className === root.querySelector("table.board").className;
    if (board.force || !sameView || !holding()) {
      board.force = false;
      board.pending = null;
      board.urgent = false;
      if (bar) bar.hidden = true;
      root.innerHTML = html;
      return true;
    }
    board.pending = html;
    var byId = {};
    fresh.forEach(function (row) { byId[row.dataset.patientId] = row; });
    var order = [], changes = 0, kept = [];
    shown.forEach(function (old) {
      var id = old.dataset.patientId, row = byId[id];
      if (row) {
        kept.push(fresh.indexOf(row));
        board.urgent = board.urgent || (row.dataset.risk === "high" && old.dataset.risk !== "high");
        if (old.classList.contains("row-new")) row.classList.add("row-new");
        order.push(row);
        delete byId[id];
      } else {
        old.classList.add("row-gone");
        order.push(old);
        changes += 1;
      }
    });
    fresh.forEach(function (row) {
      if (!byId[row.dataset.patientId]) return;
      row.classList.add("row-new");
      board.urgent = board.urgent || row.dataset.risk === "high";
      order.push(row);
      changes += 1;
    });
    changes += kept.length - longestRising(kept);
    var tbody = template.content.querySelector("table.board").tBodies[0];
    order.forEach(function (row) { tbody.appendChild(row); });
    root.replaceChildren(template.content);
    if (bar && changes) {
      bar.querySelector(".resort-text").textContent = changes + (changes === 1 ? " change" : " changes") +
        " waiting" + (board.urgent ? ", including a patient now HIGH risk" : "") + " – rows kept still while you are in the list";
      bar.hidden = false;
    }
    clearTimeout(board.idleTimer);
    board.idleTimer = setTimeout(function check() {
      if (board.pending === null) return;
      if (holding()) { board.idleTimer = setTimeout(check, 1000); return; }
      release();
    }, 1000);
    return true;
  }
})();
