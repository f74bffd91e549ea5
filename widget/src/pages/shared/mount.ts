import { render, type VNode } from "preact";

/** Mounts a page into the backend's `<div id="app">` shell (creating it if missing) once the DOM is ready. */
export function mountPage(app: () => VNode, prepare: () => void): void {
  const mount = () => {
    let root = document.getElementById("app");
    if (!root) {
      root = document.createElement("div");
      root.id = "app";
      document.body.appendChild(root);
    }
    prepare();
    render(app(), root);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount, { once: true });
  else mount();
}
