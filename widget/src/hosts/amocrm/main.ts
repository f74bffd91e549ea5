// Entry of the amoCRM script.js: webpack emits it as an anonymous AMD module whose value is the
// widget constructor. The backend URL and version are fixed at build time (build-amocrm-widget.ts).
import { createAmoWidget } from "./widget.js";

declare const __BRANCHLINE_BACKEND_URL__: string;
declare const __BRANCHLINE_VERSION__: string;

export default createAmoWidget({ backendUrl: __BRANCHLINE_BACKEND_URL__, version: __BRANCHLINE_VERSION__ });
