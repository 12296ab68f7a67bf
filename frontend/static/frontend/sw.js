/* Service worker: shows escalations pushed to this device with the page closed (Web Push).
   The payload carries no patient name or NHS number; tapping opens the alert after sign-in. */
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: "Virtual ward alert", body: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "Virtual ward alert", {
    body: (data.body || "").split("\n")[0],
    tag: data.incident_id ? "vw-incident-" + data.incident_id : "vw-alert-" + (data.alert_id || ""),
    renotify: true,
    requireInteraction: true,
    data: { url: data.incident_id ? "/triage/#incident-" + data.incident_id : "/triage/#alert-" + (data.alert_id || "") }
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(clients.openWindow(event.notification.data.url));
});
