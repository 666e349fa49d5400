// Passkeys: the forms that use one (#passkey-add on the account page,
// #passkey-sign-in on the sign-in page, #qr-passkey on a QR code's approval
// page in a phone's browser). Each asks Portti for the options
// (its first step), hands them to the browser's authenticator, and posts
// the answer with the form (its second step). Without WebAuthn in the
// browser the sign-in form stays hidden and adding says why.
(function () {
  "use strict";

  function fromBase64Url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64Url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function credentialIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromBase64Url(c.id) });
    });
  }

  function creationOptions(publicKey) {
    return Object.assign({}, publicKey, {
      challenge: fromBase64Url(publicKey.challenge),
      user: Object.assign({}, publicKey.user, { id: fromBase64Url(publicKey.user.id) }),
      excludeCredentials: credentialIds(publicKey.excludeCredentials),
    });
  }

  function requestOptions(publicKey) {
    return Object.assign({}, publicKey, {
      challenge: fromBase64Url(publicKey.challenge),
      allowCredentials: credentialIds(publicKey.allowCredentials),
    });
  }

  function answer(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64Url(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64Url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64Url(response.attestationObject);
    } else {
      json.response.authenticatorData = toBase64Url(response.authenticatorData);
      json.response.signature = toBase64Url(response.signature);
      json.response.userHandle = response.userHandle ? toBase64Url(response.userHandle) : null;
    }
    return JSON.stringify(json);
  }

  // Runs a form's ceremony: `make` turns the options into the browser's credential.
  function ceremony(form, make) {
    var said = form.querySelector("[role=status]");
    form.addEventListener("submit", function (event) {
      if (form.elements.credential.value) {
        return;
      }
      event.preventDefault();
      // The QR approval's number buttons: the pressed one is the choice.
      if (event.submitter && event.submitter.name === "pick") {
        form.elements.choice.value = event.submitter.value;
      }
      said.textContent = "";
      var token = new URLSearchParams({ csrf: form.elements.csrf.value });
      fetch(form.getAttribute("data-options"), { method: "POST", body: token, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("options " + response.status);
          }
          return response.json();
        })
        .then(function (started) {
          form.elements.ceremony.value = started.ceremony;
          return make(started.options.publicKey);
        })
        .then(function (credential) {
          form.elements.credential.value = answer(credential);
          form.submit();
        })
        .catch(function () {
          said.textContent = form.getAttribute("data-failed");
        });
    });
  }

  var supported = typeof window.PublicKeyCredential === "function" && navigator.credentials;
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn && supported) {
    signIn.hidden = false;
    ceremony(signIn, function (publicKey) {
      return navigator.credentials.get({ publicKey: requestOptions(publicKey) });
    });
  }
  var approve = document.getElementById("qr-passkey");
  if (approve) {
    if (!supported) {
      approve.querySelector("[role=status]").textContent = approve.getAttribute("data-failed");
    }
    ceremony(approve, function (publicKey) {
      return navigator.credentials.get({ publicKey: requestOptions(publicKey) });
    });
  }
  var add = document.getElementById("passkey-add");
  if (add) {
    if (!supported) {
      add.querySelector("[role=status]").textContent = add.getAttribute("data-failed");
    }
    ceremony(add, function (publicKey) {
      return navigator.credentials.create({ publicKey: creationOptions(publicKey) });
    });
  }
})();
