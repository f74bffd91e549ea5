// Entry of dist/web/inbox.js. The backend's shell is `<div id="app"></div><script src="/assets/inbox.js">`.
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
