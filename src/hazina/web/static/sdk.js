/*! Hazina checkout.js: opens the hosted checkout in a modal iframe and reports the outcome.
 *
 *   var checkout = new PaymentGateway({
 *     key: "key_…", orderId: "order_…",
 *     onSuccess: function (response) { response.paymentId … },
 *     onFailure: function (error) { … },
 *     onReview: function (response) { … },  // optional: money held for review or returned
 *     onClose: function () { … }
 *   });
 *   checkout.open();  // checkout.close() removes the modal and calls onClose
 *
 * Messages are accepted only from the origin this file was loaded from (the checkout's own
 * origin) and only from the modal's iframe: another frame on the page cannot fake a result.
 */
(function (window, document) {
  "use strict";

  var script = document.currentScript;
  var CHECKOUT_ORIGIN = script && script.src
    ? new URL(script.src, window.location.href).origin
    : window.location.origin;

  var STYLES = {
    modal: { position: "fixed", inset: "0", zIndex: "2147483646" },
    overlay: {
      position: "absolute", inset: "0", display: "flex",
      alignItems: "center", justifyContent: "center", background: "rgba(15, 23, 42, 0.6)",
      padding: "0"
    },
    content: {
      position: "relative", width: "100%", maxWidth: "480px", height: "100%",
      maxHeight: "680px", background: "#f4f6f9", borderRadius: "12px", overflow: "hidden",
      boxShadow: "0 20px 50px rgba(0, 0, 0, 0.35)"
    },
    iframe: { width: "100%", height: "100%", border: "0", display: "block" },
    close: {
      position: "absolute", top: "6px", right: "8px", width: "36px", height: "36px",
      border: "0", borderRadius: "50%", background: "rgba(255, 255, 255, 0.9)",
      fontSize: "24px", lineHeight: "36px", cursor: "pointer", color: "#14213d", padding: "0"
    }
  };

  function styled(element, styles) {
    // Property assignment, not style attributes: it works under a strict Content-Security-Policy.
    Object.keys(styles).forEach(function (name) { element.style[name] = styles[name]; });
    return element;
  }

  function call(callback, value) {
    if (typeof callback === "function") callback(value);
  }

  function PaymentGateway(options) {
    if (!(this instanceof PaymentGateway)) return new PaymentGateway(options);
    if (!options || !options.key) throw new Error("PaymentGateway: the 'key' option is required");
    if (!options.orderId) throw new Error("PaymentGateway: the 'orderId' option is required");
    this.options = options;
    this.modal = null;
    this.iframe = null;
    this._onMessage = this._onMessage.bind(this);
    this._onKey = this._onKey.bind(this);
  }

  PaymentGateway.prototype.open = function () {
    if (this.modal) return this;
    // The contract's DOM: div#payment-gateway-modal > .modal-overlay > .modal-content >
    // iframe + button.close-button.
    var modal = styled(document.createElement("div"), STYLES.modal);
    modal.id = "payment-gateway-modal";
    modal.setAttribute("data-test-id", "payment-modal");
    var overlay = styled(document.createElement("div"), STYLES.overlay);
    overlay.className = "modal-overlay";
    var content = styled(document.createElement("div"), STYLES.content);
    content.className = "modal-content";
    var iframe = styled(document.createElement("iframe"), STYLES.iframe);
    iframe.setAttribute("data-test-id", "payment-iframe");
    iframe.setAttribute("src", CHECKOUT_ORIGIN + "/checkout?order_id=" +
      encodeURIComponent(this.options.orderId) + "&embedded=true");
    var close = styled(document.createElement("button"), STYLES.close);
    close.setAttribute("data-test-id", "close-modal-button");
    close.className = "close-button";
    close.setAttribute("aria-label", "Close checkout");
    close.textContent = "×";
    close.addEventListener("click", this.close.bind(this));
    content.appendChild(iframe);
    content.appendChild(close);
    overlay.appendChild(content);
    modal.appendChild(overlay);

    this.modal = modal;
    this.iframe = iframe;
    this._overflow = document.documentElement.style.overflow;
    document.documentElement.style.overflow = "hidden";
    window.addEventListener("message", this._onMessage);
    document.addEventListener("keydown", this._onKey);
    document.body.appendChild(modal);
    return this;
  };

  PaymentGateway.prototype.close = function () {
    if (!this.modal) return this;
    window.removeEventListener("message", this._onMessage);
    document.removeEventListener("keydown", this._onKey);
    this.modal.parentNode.removeChild(this.modal);
    document.documentElement.style.overflow = this._overflow;
    this.modal = null;
    this.iframe = null;
    call(this.options.onClose);
    return this;
  };

  PaymentGateway.prototype._onKey = function (event) {
    if (event.key === "Escape") this.close();
  };

  PaymentGateway.prototype._onMessage = function (event) {
    if (event.origin !== CHECKOUT_ORIGIN) return;
    if (!this.iframe || event.source !== this.iframe.contentWindow) return;
    var message = event.data;
    if (!message || typeof message.type !== "string") return;
    if (message.type === "payment_success") {
      call(this.options.onSuccess, message.data);
      this.close();
    } else if (message.type === "payment_failed") {
      call(this.options.onFailure, message.data);
    } else if (message.type === "payment_review") {
      // Money arrived but is not a success (held for the merchant's review, or being returned):
      // onReview if the merchant has one, else onFailure, so it is never mistaken for a success.
      if (typeof this.options.onReview === "function") call(this.options.onReview, message.data);
      else call(this.options.onFailure, message.data);
    } else if (message.type === "close_modal") {
      this.close();
    }
  };

  window.PaymentGateway = PaymentGateway;
})(window, document);
