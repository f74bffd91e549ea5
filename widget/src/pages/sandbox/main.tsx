// Entry of dist/web/sandbox.js. The backend's shell is `<div id="app"></div><script src="/assets/sandbox.js">`.
import { mountPage } from "../shared/mount.js";
import { App } from "./App.js";
import { injectStyles } from "./styles.js";

mountPage(() => <App />, injectStyles);
