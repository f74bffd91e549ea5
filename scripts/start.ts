// `npm start`: build the web pages if they are missing, then run the backend.
import { buildWeb } from "./build-web.js";

await buildWeb({ onlyIfMissing: true });
await import("../backend/src/main.js");
