/* The observation-set form: the NEWS2 it will give, from the server's own scoring code, shown
 * as the set is typed; on save, errors beside their fields and focus on the first, with no
 * reload (the form works without this script too: POST, then the page again at the form).
 */
(function () {
  "use strict";
  var form = document.getElementById("obs-set-form");
  if (!form) return;
  var preview = document.getElementById("news2-preview");
  var status = document.getElementById("obs-set-status");
  var summary = document.getElementById("obs-set-errors");
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var timer = null, asked = 0;

  function fieldNames() {
    return Array.prototype.map.call(form.querySelectorAll(".obs-field"), function (f) { return f.dataset.field; });
  }

  function showErrors(errors, focus) {
    var first = null;
    fieldNames().forEach(function (name) {
      var box = form.querySelector('.obs-field[data-field="' + name + '"]');
      var input = form.elements[name];
      var slot = document.getElementById("id_" + name + "-error");
      var list = errors[name] || [];
      slot.textContent = list.map(function (e) { return e.message; }).join(" ");
      slot.hidden = !list.length;
      box.classList.toggle("has-error", !!list.length);
      if (list.length) { input.setAttribute("aria-invalid", "true"); first = first || input; }
      else input.removeAttribute("aria-invalid");
    });
    var general = (errors.__all__ || []).map(function (e) { return e.message; });
    summary.innerHTML = "";
    general.forEach(function (text) {
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = text;
      summary.appendChild(p);
    });
    if (focus) (first || (general.length ? form.elements[fieldNames()[1]] : null) || form).focus();
  }

  function askPreview() {
    var mine = ++asked;
    var params = new URLSearchParams(new FormData(form));
    params.delete("csrfmiddlewaretoken");
    fetch(form.dataset.previewUrl + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("The preview could not be worked out (" + r.status + ")."); return r.json(); })
      .then(function (data) {
        if (mine !== asked) return;  // an older answer arriving late
        preview.innerHTML = data.html;
        preview.dataset.total = data.total;
        showErrors(data.errors || {}, false);
      })
      .catch(function (e) { if (mine === asked) preview.textContent = e.message; });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(askPreview, 350); }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    status.textContent = "Saving…";
    fetch(form.action.split("#")[0], {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (answer) {
        if (!answer.ok) {
          status.textContent = "Not saved: correct the fields marked below.";
          showErrors(answer.data.errors || {}, true);
          return;
        }
        showErrors({}, false);
        status.textContent = answer.data.message;
        fieldNames().forEach(function (name) { if (name !== "measured_at") form.elements[name].value = ""; });
        form.elements[fieldNames()[1]].focus();
        askPreview();
      })
      .catch(function () { status.textContent = "Not saved: the connection failed. Nothing was lost; try again."; });
  });
  askPreview();
})();
