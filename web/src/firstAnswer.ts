// The answer to the page's first API request (a runs table's first page, a run), which the
// server put into index.html as a JSON data block (server/first_answer.py): the first render
// shows it, with no request and no wait. It is taken once: the first request the app makes
// takes it if it asks for the same path and drops it otherwise, so it is never handed out
// later, stale.

export const FIRST_ANSWER_ID = "tether-first";

interface FirstAnswer {
  path: string;
  body: unknown;
}

let pending: FirstAnswer | null | undefined; // undefined: the page's block not read yet

function take(path: string): FirstAnswer | null {
  if (pending === undefined) {
    pending = null;
    const element = document.getElementById(FIRST_ANSWER_ID);
    try {
      if (element?.textContent) pending = JSON.parse(element.textContent) as FirstAnswer;
    } catch {
      // not ours, or cut short: the app asks as usual
    }
    element?.remove();
  }
  const answer = pending;
  pending = null;
  return answer && answer.path === path ? answer : null;
}

/** The body of the embedded answer to `path` (synchronously, for a first render), or undefined. */
export function takeFirstAnswer(path: string): unknown {
  return take(path)?.body;
}

/** The embedded answer to `path` as a response, or null: the app then asks the server. */
export function takeFirstResponse(path: string): Response | null {
  const answer = take(path);
  if (!answer) return null;
  return new Response(JSON.stringify(answer.body), { status: 200, headers: { "Content-Type": "application/json" } });
}
