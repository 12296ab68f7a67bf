// Patient pairing pages. Typed entry always works; this only adds scanning and live status.
(function () {
  "use strict";

  // Step 2: scan the device's label where the browser can (BarcodeDetector); typing stays available.
  function setUpScan() {
    var button = document.getElementById("scan");
    var video = document.getElementById("camera");
    var input = document.getElementById("serial");
    var note = document.getElementById("scan-note");
    if (!button || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var detector = new window.BarcodeDetector();
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        note.textContent = "Point the camera at the code on the back of the device.";
        var stop = function () { stream.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; };
        var look = function () {
          detector.detect(video).then(function (codes) {
            if (codes.length) {
              input.value = codes[0].rawValue.trim();
              note.textContent = "Found the device number. Check it, then press Set up my device.";
              stop();
            } else {
              window.setTimeout(look, 300);
            }
          }).catch(function () { window.setTimeout(look, 500); });
        };
        look();
      }).catch(function () {
        note.textContent = "We could not use the camera. Please type the number instead.";
      });
    });
  }

  // A kit: each device named, each with its own first reading confirmed as it arrives.
  function showKit(kit) {
    var list = document.getElementById("kit-list");
    if (!list) return;
    kit.forEach(function (d) {
      var item = list.querySelector('[data-device="' + d.id + '"]');
      if (!item) return;
      item.dataset.state = d.state;
      item.querySelector(".kit-state").textContent = (d.state === "received" ? "✓ " : "") + d.title;
    });
  }

  // Step 3: ask the server every few seconds whether the first reading has arrived.
  function setUpStatus() {
    var box = document.getElementById("status");
    if (!box) return;
    var help = document.getElementById("help");
    var poll = function () {
      fetch(box.dataset.url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.state === "unknown") return;
          box.dataset.state = s.state;
          document.getElementById("status-title").textContent = s.title;
          document.getElementById("status-text").textContent = s.text;
          help.hidden = !s.show_help;
          showKit(s.kit || []);
          var kitWaiting = (s.kit || []).some(function (d) { return d.state !== "received" && d.state !== "revoked"; });
          if (s.state === "received" || s.state === "revoked") {
            var spinner = box.querySelector(".spinner");
            if (spinner) spinner.remove();
            // The rest of the kit may still be on its way: keep confirming each device.
            if (!kitWaiting) return;
          }
          window.setTimeout(poll, 3000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 1000);
  }

  setUpScan();
  setUpStatus();
})();
