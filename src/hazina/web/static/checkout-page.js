// The hosted checkout: fetch the public order, collect the chosen method's details, create the
// payment through the public API, poll it every 2 s, then show (and, when embedded in the SDK's
// iframe, post to the parent window) the outcome. Plain DOM, no build step.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var SUCCESS_REDIRECT_MS = 3000;
  var root = document.querySelector('[data-test-id="checkout-container"]');
  if (!root) return;
  var orderId = root.getAttribute("data-order-id");
  var embedded = root.getAttribute("data-embedded") === "true";
  var order = null;
  var method = null;
  var pollTimer = null;
  var attemptKey = null;
  var lastPayment = null;
  var popup = null; // embedded only: the tab a provider's page opens in

  function byTestId(id) {
    return root.querySelector('[data-test-id="' + id + '"]');
  }

  var loading = root.querySelector("[data-loading]");
  var methods = byTestId("payment-methods");
  var forms = root.querySelectorAll("[data-method-form]");
  var processing = byTestId("processing-state");
  var success = byTestId("success-state");
  var failure = byTestId("error-state");
  var held = byTestId("review-state");
  var nextAction = root.querySelector("[data-next-action]");
  var nextLink = root.querySelector("[data-next-link]");
  var nextCode = root.querySelector("[data-next-code]");
  // Methods answered in this page (InnBucks shows a code): no tab to open for a redirect.
  var IN_PAGE = { innbucks: true };
  var retryButton = byTestId("retry-button");

  // Which part of the page is showing: "loading", "choose" (methods, plus a method's form),
  // "processing", "success", "held" (money received but not a success: in review, or being
  // returned) or "error".
  function show(view) {
    loading.hidden = view !== "loading";
    methods.hidden = view !== "choose";
    forms.forEach(function (form) {
      form.hidden = !(view === "choose" && form.getAttribute("data-method-form") === method);
    });
    processing.hidden = view !== "processing";
    success.hidden = view !== "success";
    failure.hidden = view !== "error";
    held.hidden = view !== "held";
  }

  function notify(type, data) {
    // The contract's protocol: {type, data} to the SDK's window. The data is what the merchant
    // page would learn anyway, and checkout.js checks that it comes from this origin.
    if (embedded && window.parent !== window) {
      window.parent.postMessage({ type: type, data: data }, "*");
    }
  }

  function describe(payment, status) {
    return {
      paymentId: payment ? payment.id : null,
      orderId: orderId,
      amount: order ? order.amount : null,
      currency: order ? order.currency : null,
      status: status
    };
  }

  function fail(message, payment, retryable) {
    stopPolling();
    closePopup();
    lastPayment = payment;
    byTestId("error-message").textContent = message;
    retryButton.hidden = !retryable;
    show("error");
    var data = describe(payment, "failed");
    if (payment && payment.error_code) {
      data.error = { code: payment.error_code, description: payment.error_description };
    }
    notify("payment_failed", data);
  }

  function succeed(payment) {
    stopPolling();
    byTestId("payment-id").textContent = payment.id;
    show("success");
    notify("payment_success", describe(payment, "success"));
    if (!embedded) {
      window.setTimeout(function () {
        window.location.assign("/success?payment_id=" + encodeURIComponent(payment.id));
      }, SUCCESS_REDIRECT_MS);
    }
  }

  // Never a success: the money arrived but the merchant must check it (`review`), or it is on
  // its way back because the order was already paid (`refunded`).
  var HELD = {
    review: [
      "Payment received, not yet confirmed",
      "The merchant is checking this payment before confirming your order."
    ],
    refunded: [
      "Payment being returned",
      "This order was already paid, so this payment is being refunded to you in full."
    ]
  };

  function hold(payment) {
    stopPolling();
    closePopup();
    lastPayment = payment;
    root.querySelector("[data-held-title]").textContent = HELD[payment.status][0];
    byTestId("review-message").textContent = HELD[payment.status][1];
    byTestId("review-payment-id").textContent = payment.id;
    show("held");
    notify("payment_review", describe(payment, payment.status));
  }

  function stopPolling() {
    if (pollTimer !== null) window.clearTimeout(pollTimer);
    pollTimer = null;
  }

  function poll(paymentId) {
    pollTimer = window.setTimeout(function () {
      fetch("/api/v1/payments/" + encodeURIComponent(paymentId) + "/public", {
        headers: { Accept: "application/json" }
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .catch(function () { return null; }) // a network blip: ask again next time
        .then(function (payment) {
          if (payment && payment.status === "success") succeed(payment);
          else if (payment && HELD.hasOwnProperty(payment.status)) hold(payment);
          else if (payment && payment.status === "failed") {
            fail(payment.error_description || "Payment failed", payment, true);
          } else poll(paymentId);
        });
    }, POLL_MS);
  }

  // A provider's payment may ask the customer to act elsewhere: follow it, and keep polling.
  //
  // A redirect (Stripe Checkout, ClickPesa's checkout link) on the hosted page navigates it. Inside
  // the SDK's iframe it opens in a new tab instead: the providers' pages refuse to be framed, and
  // taking over the merchant's page (window.top) would end the merchant's checkout.js session and
  // its onSuccess callback. The tab is opened on the customer's click, before the API call, so no
  // popup blocker stops it; the iframe keeps polling and reports the outcome to the merchant as
  // for any other method. A link to the same page stays in view in case the tab was blocked or
  // closed.
  function openPopup() {
    closePopup();
    popup = window.open("", "_blank");
    if (popup) popup.opener = null; // the provider's page gets no handle on this checkout
  }

  function closePopup() {
    if (popup && !popup.closed) popup.close();
    popup = null;
  }

  function follow(action) {
    if (!action || typeof action !== "object" || action.type !== "redirect") closePopup();
    if (!action || typeof action !== "object") return;
    if (action.type === "redirect" && /^https?:\/\//i.test(String(action.url))) {
      if (!embedded) {
        nextAction.textContent = "Taking you to the payment page…";
        nextAction.hidden = false;
        window.location.assign(action.url);
        return;
      }
      if (popup && !popup.closed) popup.location.replace(action.url);
      popup = null;
      nextAction.textContent = "Finish paying in the new tab; this page updates when you are done.";
      nextAction.hidden = false;
      var link = nextLink.querySelector("a");
      link.href = action.url;
      link.textContent = "Open the payment page";
      nextLink.hidden = false;
    } else if (action.type === "ussd_push") {
      nextAction.textContent = "Check your phone" + (action.phone ? " (" + action.phone + ")" : "") +
        ": " + (action.message || "approve the payment request.");
      nextAction.hidden = false;
    } else if (action.type === "authorization_code" && /^\d+$/.test(String(action.code))) {
      // The QR code is the server's SVG shown as an image: it can carry no script.
      byTestId("authorization-code").textContent = action.code;
      byTestId("authorization-qr").src = "data:image/svg+xml," + encodeURIComponent(action.qr_svg || "");
      var open = byTestId("authorization-link");
      if (/^schinn\.wbpycode:\/\//.test(String(action.deep_link))) open.href = action.deep_link;
      nextCode.querySelector("[data-code-expiry]").textContent =
        action.expires_at ? "(valid until " + new Date(action.expires_at).toLocaleString() + ")" : "";
      nextAction.textContent = "Pay in the InnBucks app: enter the code, scan the QR code or open the app.";
      nextAction.hidden = false;
      nextCode.hidden = false;
    }
  }

  // `redirects`: the method will (likely) answer with a redirect, for which an embedded checkout
  // opens its tab now, while the click still counts as the customer's.
  function pay(body, redirects) {
    nextAction.hidden = true;
    nextLink.hidden = true;
    nextCode.hidden = true;
    if (embedded && redirects) openPopup();
    show("processing");
    fetch("/api/v1/payments/public", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        // One key per attempt: a repeated submit can never charge twice.
        "Idempotency-Key": attemptKey
      },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (!response.ok) {
            var error = json && json.error;
            fail(error ? error.description : "The payment could not be started", null, true);
            return;
          }
          follow(json.next_action);
          poll(json.id);
        });
      })
      .catch(function () {
        fail("Network error: check your connection and try again", null, true);
      });
  }

  function newAttempt() {
    attemptKey = "checkout-" + orderId + "-" + (window.crypto && crypto.randomUUID
      ? crypto.randomUUID()
      : String(Date.now()) + Math.random().toString(16).slice(2));
  }

  // Each sandbox form turns its fields into the API's request body; null means invalid.
  var collectors = {
    upi: function (form) {
      return { order_id: orderId, method: "upi", vpa: form.elements.vpa.value.trim() };
    },
    card: function (form) {
      var expiry = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(form.elements.expiry.value);
      if (!expiry) return null;
      return {
        order_id: orderId,
        method: "card",
        card: {
          number: form.elements.number.value.replace(/[\s-]/g, ""),
          expiry_month: expiry[1],
          expiry_year: expiry[2],
          cvv: form.elements.cvv.value.trim(),
          holder_name: form.elements.holder_name.value.trim()
        }
      };
    },
    // An optional phone: with one ClickPesa pushes a USSD prompt, without one it answers with
    // its checkout link.
    clickpesa: function (form) {
      var phone = form.elements.phone.value.replace(/[\s+-]/g, "");
      var body = { order_id: orderId, method: "clickpesa" };
      if (phone) body.phone = phone;
      return body;
    },
    // Mobile money: the number the prompt is pushed to (required; the server validates it).
    ecocash: mobileMoney,
    onemoney: mobileMoney,
    ecocash_direct: mobileMoney
  };

  function mobileMoney(form) {
    var phone = form.elements.phone.value.replace(/[\s-]/g, "");
    return { order_id: orderId, method: form.getAttribute("data-method-form"), phone: phone };
  }

  function choose(button) {
    method = button.getAttribute("data-method");
    root.querySelectorAll("[data-method]").forEach(function (other) {
      other.setAttribute("aria-pressed", String(other === button));
    });
    newAttempt();
    if (button.getAttribute("data-has-form") === "true") {
      show("choose");
      var first = root.querySelector('[data-method-form="' + method + '"] input');
      if (first) first.focus();
    } else {
      // A provider without a form (Stripe): its next_action says what to do.
      pay({ order_id: orderId, method: method }, !IN_PAGE[method]);
    }
  }

  root.querySelectorAll("[data-method]").forEach(function (button) {
    button.addEventListener("click", function () { choose(button); });
  });

  forms.forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = collectors[form.getAttribute("data-method-form")](form);
      if (body === null) {
        fail("Expiry must be MM/YY", null, true);
        return;
      }
      pay(body, body.method !== "upi" && body.method !== "card" && !body.phone);
    });
  });

  retryButton.addEventListener("click", function () {
    newAttempt();
    show("choose");
  });

  root.querySelector("[data-cancel]").addEventListener("click", function () {
    if (embedded) {
      notify("close_modal", describe(lastPayment, lastPayment ? lastPayment.status : "cancelled"));
      return;
    }
    var query = "?order_id=" + encodeURIComponent(orderId);
    if (lastPayment) query += "&payment_id=" + encodeURIComponent(lastPayment.id);
    window.location.assign("/failure" + query);
  });

  function start() {
    fetch("/api/v1/orders/" + encodeURIComponent(orderId) + "/public", {
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        return response.json().then(function (json) { return { ok: response.ok, json: json }; });
      })
      .then(function (result) {
        if (!result.ok) {
          fail(result.json.error ? result.json.error.description : "Order not found", null, false);
          return;
        }
        order = result.json;
        // The amount and the Pay buttons were written by the server, with the currency's ISO
        // 4217 decimals: a browser's own currency table may differ.
        if (order.status === "paid") {
          fail("This order has already been paid.", null, false);
          return;
        }
        show("choose");
      })
      .catch(function () {
        fail("Could not load the order: check your connection and reload.", null, false);
      });
  }

  start();
})();
