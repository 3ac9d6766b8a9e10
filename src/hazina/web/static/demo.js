// The demo shop's Pay button: what a merchant writes to use checkout.js.
(function () {
  "use strict";

  var button = document.getElementById("demo-pay");
  var result = document.querySelector("[data-demo-result]");

  button.addEventListener("click", function () {
    new window.PaymentGateway({
      key: button.getAttribute("data-key"),
      orderId: button.getAttribute("data-order-id"),
      onSuccess: function (response) {
        result.textContent = "Paid: " + response.paymentId;
        result.setAttribute("data-payment-id", response.paymentId);
        button.disabled = true;
      },
      onFailure: function (error) {
        result.textContent = "Payment failed" + (error && error.paymentId ? ": " + error.paymentId : "");
      },
      onClose: function () {
        result.setAttribute("data-closed", "true");
      }
    }).open();
  });
})();
