// Entry of dist/web/console.js. The backend's shell is `<div id="app"></div><script src="/assets/console.js">`.
import { mountPage } from "../shared/mount.js";
import { ensureViewport } from "../shared/styles.js";
import { App } from "./App.js";
import { injectStyles } from "./styles.js";

mountPage(
  () => <App />,
  () => {
    ensureViewport();
    injectStyles();
  },
);
