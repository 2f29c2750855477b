// Progressive enhancement only: every page works without this script.
"use strict";

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on a LAN is not a "secure context": fall back to a selection.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "absolute";
  area.style.left = "-9999px";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

// After a failed submit the page opens on the list of what to fix: the focus
// goes there (it has tabindex=-1), so it is read first and Tab goes on from it.
const errorSummary = document.getElementById("error-bar");
if (errorSummary) {
  errorSummary.focus();
}

function announce(text) {
  // The copy button's accessible name is its aria-label ("Copy short link
  // ..."), so its changed text is not read out; a live region is.
  const status = document.getElementById("copy-status");
  if (status) {
    status.textContent = "";
    // A fresh text node, a moment later: the same words twice are read twice.
    setTimeout(() => { status.textContent = text; }, 50);
  }
}

document.addEventListener("click", async (event) => {
  const copy = event.target.closest("button.copy");
  if (copy) {
    try {
      await copyText(copy.dataset.copy);
      copy.textContent = "Copied";
      announce("Copied " + copy.dataset.copy.replace(/^https?:\/\//, ""));
    } catch (error) {
      copy.textContent = "Copy failed";
      announce("Copy failed");
    }
    setTimeout(() => { copy.textContent = "Copy"; }, 2000);
    return;
  }
  const thumb = event.target.closest("a.qr-thumb");
  const dialog = document.getElementById("qr-dialog");
  if (thumb && dialog && typeof dialog.showModal === "function") {
    event.preventDefault();
    const base = thumb.dataset.qr;
    const code = thumb.dataset.code;
    const image = document.getElementById("qr-dialog-img");
    image.src = base + "?size=320";
    image.alt = "QR code for " + code;
    document.getElementById("qr-dialog-title").textContent = "QR code for " + code;
    const png = document.getElementById("qr-png");
    png.href = base + "?size=1024";
    png.download = code + ".png";
    const svg = document.getElementById("qr-svg");
    svg.href = base + "?format=svg";
    svg.download = code + ".svg";
    dialog.showModal();
  }
});
