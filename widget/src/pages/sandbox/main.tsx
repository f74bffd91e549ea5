// Entry of dist/web/sandbox.js. The backend's shell is `<div id="app"></div><script src="/assets/sandbox.js">`.
import { render } from "preact";
import { App } from "./App.js";
import { injectStyles } from "./styles.js";

function mount(): void {
  let root = document.getElementById("app");
  if (!root) {
    root = document.createElement("div");
    root.id = "app";
    document.body.appendChild(root);
  }
  injectStyles();
  render(<App />, root);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount, { once: true });
else mount();
