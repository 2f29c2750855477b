// The one-time API key selects itself on click, ready to copy (a file, not
// an onclick attribute: the Content-Security-Policy runs no inline script).
"use strict";

document.getElementById("api-key")?.addEventListener("click", (event) => {
  event.target.select();
});
