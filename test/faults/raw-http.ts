import net from "node:net";
import fc from "fast-check";
import type { Operation } from "./requests.ts";
import type { SeenResponse } from "./shapes.ts";

/**
 * Requests only a socket can send — bytes the HTTP parser sees before any
 * route does: bad percent-encoding, a 10,000-character path parameter, a
 * 70 KB header, Content-Length with Transfer-Encoding, control characters.
 */

export interface RawRequest {
  label: string;
  /** The path the request names (for the surface). */
  path: string;
  bytes: Buffer;
}

export type RawOutcome = { kind: "response"; response: SeenResponse } | { kind: "closed" } | { kind: "hang" };

/** Sends the bytes and reads until the server closes the connection (every request says Connection: close). */
export function sendRaw(port: number, bytes: Buffer, timeoutMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1");
    let settled = false;
    const finish = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      // A complete response on a socket left open is an answer, not a hang.
      const parsed = parseResponse(Buffer.concat(chunks));
      finish(parsed ? { kind: "response", response: parsed } : { kind: "hang" });
    }, timeoutMs);
    // No half-close: a client that ends its side is read by Node as one that went away, and gets no answer.
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (c) => {
      chunks.push(c);
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed && parsed.complete) finish({ kind: "response", response: parsed });
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const parsed = parseResponse(Buffer.concat(chunks));
      finish(parsed ? { kind: "response", response: parsed } : { kind: "closed" });
    });
  });
}

function parseResponse(buf: Buffer): (SeenResponse & { complete: boolean }) | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1]);
  if (!Number.isInteger(status)) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = buf.subarray(end + 4);
  let complete = false;
  if (headers["transfer-encoding"]?.includes("chunked")) {
    const parts: Buffer[] = [];
    let rest = body;
    for (;;) {
      const lineEnd = rest.indexOf("\r\n");
      if (lineEnd < 0) break;
      const size = parseInt(rest.subarray(0, lineEnd).toString("latin1"), 16);
      if (!Number.isFinite(size)) break;
      if (size === 0) {
        complete = true;
        break;
      }
      if (rest.length < lineEnd + 2 + size) break;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    complete = body.length >= length;
    body = body.subarray(0, length);
  }
  return { status, headers, body: body.toString("utf8"), complete };
}

const PATH_BREAKERS = ["%ff", "%", "%zz", "%ED%A0%80", "%c0%af", "%00", "a".repeat(10_000), "%F0%9F%A6%84", "é", "a b"];

function requestPath(ops: Operation[]): fc.Arbitrary<string> {
  const breaker = fc.option(fc.constantFrom(...PATH_BREAKERS), { freq: 2 });
  const query = fc.oneof({ weight: 3, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("?q=%ff", "?limit=%", `?x=${"b".repeat(9000)}`, "?a=%00") });
  return fc.tuple(fc.constantFrom(...ops), breaker, query).map(([op, broken, query]) => {
    const filled = op.path.replace(/\{[^}]+\}/g, "x");
    const path = broken === null ? filled : op.pathParams.length > 0 ? op.path.replace(/\{[^}]+\}/, broken).replace(/\{[^}]+\}/g, "x") : `${op.path}/${broken}`;
    return `${path}${query}`;
  });
}

type Extra = { label: string; lines: string[]; body?: string; raw?: (head: string) => string };

const EXTRAS: Extra[] = [
  { label: "plain", lines: [] },
  { label: "70 KB header", lines: [`x-pad: ${"a".repeat(70_000)}`] },
  { label: "Content-Length + Transfer-Encoding", lines: ["content-type: application/json", "content-length: 2", "transfer-encoding: chunked"], body: "2\r\n{}\r\n0\r\n\r\n" },
  { label: "two Content-Lengths", lines: ["content-type: application/json", "content-length: 2", "content-length: 3"], body: "{}" },
  { label: "negative Content-Length", lines: ["content-type: application/json", "content-length: -1"], body: "{}" },
  { label: "control char in Idempotency-Key", lines: ["idempotency-key: a\u0001b"] },
  { label: "DEL in Idempotency-Key", lines: ["idempotency-key: a\u007fb"] },
  { label: "NUL in a header", lines: ["authorization: Bearer a\u0000b"] },
  { label: "UTF-8 bytes in Idempotency-Key", lines: ["idempotency-key: ключ-🔑"] },
  { label: "invalid header name", lines: ["x y: 1"] },
  { label: "obs-fold", lines: ["x-a: 1", " folded"] },
  { label: "bare LF", lines: [], raw: (head) => head.replace(/\r\n/g, "\n") },
  { label: "HTTP/1.0", lines: [], raw: (head) => head.replace(" HTTP/1.1\r\n", " HTTP/1.0\r\n") },
  { label: "unknown method", lines: [], raw: (head) => head.replace(/^[A-Z]+ /, "FOO ") },
  { label: "absolute-form", lines: [], raw: (head) => head.replace(/^([A-Z]+) \//, "$1 http://127.0.0.1/") },
  { label: "chunked JSON body", lines: ["content-type: application/json", "transfer-encoding: chunked"], body: "5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n" },
  { label: "gzip body that is not gzip", lines: ["content-type: application/json", "content-encoding: gzip", "content-length: 2"], body: "{}" },
];

export function rawRequestArbitrary(ops: Operation[], auth: { bearer: string }): fc.Arbitrary<RawRequest> {
  return fc.tuple(requestPath(ops), fc.constantFrom("GET", "POST", "PATCH", "DELETE", "PUT"), fc.constantFrom(...EXTRAS)).map(([path, method, extra]) => {
    const head = [`${method} ${path} HTTP/1.1`, "host: 127.0.0.1", "connection: close", `authorization: Bearer ${auth.bearer}`, ...extra.lines].join("\r\n") + "\r\n\r\n";
    const text = (extra.raw ? extra.raw(head) : head) + (extra.body ?? "");
    return { label: extra.label, path, bytes: Buffer.from(text, "utf8") };
  });
}
