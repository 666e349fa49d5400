// QR sign-in, the computer's side: asks every second whether the phone has
// answered this browser's QR code. On approval the sign-in goes on by
// itself (the "Continue" button, which works without this script too); an
// expired code is replaced by reloading the page; a declined one says so.
(function () {
  "use strict";
  var section = document.getElementById("qr");
  if (!section) {
    return;
  }
  var statusUrl = section.getAttribute("data-status");
  var form = document.getElementById("qr-form");
  var said = document.getElementById("qr-state");
  var done = false;

  function poll() {
    if (done) {
      return;
    }
    fetch(statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // Not found: the code is gone (swept, or the cookie changed). Any
        // other failure is the server's, and worth waiting out, not a reload.
        if (response.status === 404) {
          return { state: "expired" };
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        if (answer.state === "approved") {
          done = true;
          form.submit();
        } else if (answer.state === "denied") {
          done = true;
          said.textContent = section.getAttribute("data-denied");
        } else if (answer.state === "expired") {
          done = true;
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 1000);
})();
