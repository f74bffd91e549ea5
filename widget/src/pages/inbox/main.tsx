// Entry of dist/web/inbox.js. The backend's shell is `<div id="app"></div><script src="/assets/inbox.js">`.
import { render } from "preact";
import { App } from "./App.js";
import { ensureDocumentMeta, injectStyles } from "./styles.js";

function mount(): void {
  let root = document.getElementById("app");
  if (!root) {
    root = document.createElement("div");
    root.id = "app";
    document.body.appendChild(root);
  }
  ensureDocumentMeta();
  injectStyles();
  render(<App />, root);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount, { once: true });
else mount();
