// Small enhancements of the dashboard's forms; every action is still a plain form post with its
// CSRF token, so this file adds behaviour, never security.
(function () {
  "use strict";

  // Buttons that must stay type="button" (the contract's test webhook button) submit a form
  // elsewhere on the page.
  document.querySelectorAll("[data-submits]").forEach(function (button) {
    button.addEventListener("click", function () {
      var form = document.getElementById(button.getAttribute("data-submits"));
      if (form) form.requestSubmit();
    });
  });

  // Irreversible actions ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // A form is sent once, however often its button is pressed.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return;
      if (form.dataset.sent) event.preventDefault();
      form.dataset.sent = "true";
    });
  });
})();
