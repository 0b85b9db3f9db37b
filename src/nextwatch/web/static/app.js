// Progressive enhancement only: every form works without this file.
// 1. The round's Submit button says how many movies are ticked.
// 2. A form is not sent twice by a double click (the server would not count it twice anyway).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.round-form");
  if (form) {
    var submit = form.querySelector("button[value='submit']");
    var update = function () {
      var n = form.querySelectorAll("input.pick:checked").length;
      submit.textContent = n ? "Submit (" + n + " liked)" : "Submit";
    };
    form.addEventListener("change", update);
    update();
  }
  document.querySelectorAll("form[method='post']").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      if (f.dataset.sent) { event.preventDefault(); return; }
      f.dataset.sent = "1";
    });
  });
  // a page restored by the back button may be submitted again (the server spots a repeated round)
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (f) { delete f.dataset.sent; });
  });
});
