/* "Turn on notifications on this device": register the service worker, subscribe with the
   server's VAPID public key, and hand the subscription to the server. */
(function () {
  "use strict";
  var button = document.getElementById("push-enable");
  var status = document.getElementById("push-status");
  if (!button) return;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  function say(text) { status.textContent = text; }
  function key(base64) {
    var padded = (base64 + "===".slice((base64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), function (c) { return c.charCodeAt(0); });
  }
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    button.disabled = true; say("This browser cannot receive push notifications."); return;
  }
  button.addEventListener("click", function () {
    navigator.serviceWorker.register("/static/frontend/sw.js")
      .then(function (registration) {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(button.dataset.key) });
      })
      .then(function (subscription) {
        return fetch(button.dataset.url, { method: "POST", credentials: "same-origin", body: JSON.stringify(subscription),
                                          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf } });
      })
      .then(function (response) { say(response.ok ? "Notifications are on for this device." : "The server refused the subscription."); })
      .catch(function (error) { say("Could not turn on notifications: " + error.message); });
  });
})();
