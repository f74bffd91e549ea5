import { leanPost } from "../../ops/lean-post.js";

/**
 * POST a JSON body to Graph and read the answer: the message sends, the one hot path of the Graph
 * client (see `leanPost`). Resolves with the status and the parsed body (the raw text when it is
 * not JSON); rejects as `leanPost` does.
 */
export async function postJson(url: string, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; data: unknown }> {
  const { status, text } = await leanPost(url, JSON.stringify(body), { ...headers, "content-type": "application/json", accept: "application/json" }, timeoutMs);
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : "";
  } catch {
    // not JSON (an HTML error page): keep the text for the error report
  }
  return { status, data };
}
