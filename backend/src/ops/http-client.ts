import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import axios, { type AxiosInstance } from "axios";

/**
 * The one outbound HTTP client (Graph API, CRMs, branch webhooks): keep-alive sockets, because at
 * 80–1,000 sends a second a new TLS connection per request costs more than the request. Proxy
 * variables are not read (`proxy: false`): the deployments this serves reach Meta directly, and
 * axios looks them up on every request otherwise.
 */
export function createHttpClient(): AxiosInstance {
  return axios.create({
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 256 }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
    proxy: false,
  });
}
