// The resumable upload protocol of docs/api.md ("Resumable uploads"): announce the file, PATCH
// its bytes in parts, and after a dropped connection or a 409 ask the server where to go on.
import { ApiError, api, csrfToken, errorMessage, readBody, uploadPath } from "./api";
import { isAbort } from "./dom";

export const PART_BYTES = 8 * 1024 * 1024;
const MAX_RETRIES = 5;
const FIRST_BACKOFF_MS = 500;

export interface UploadProgress {
  sent: number;
  total: number;
}

/** Waits `ms`, or rejects at once with an AbortError when the signal fires. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new DOMException("Aborted", "AbortError"));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal?.reason ?? new DOMException("Aborted", "AbortError"));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Worth another try: the network failed, or a proxy or the server had a passing problem. */
function isTransient(err: unknown): boolean {
  if (isAbort(err)) return false;
  if (err instanceof ApiError) return err.status >= 500 || err.status === 408 || err.status === 429;
  return err instanceof TypeError; // what fetch throws when the connection drops
}

function offsetHeader(res: Response): number | null {
  const raw = res.headers.get("Upload-Offset");
  if (raw === null || raw.trim() === "") return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** Sends one part; answers the server's new offset. */
async function patchPart(id: string, file: Blob, offset: number, signal?: AbortSignal): Promise<number> {
  const end = Math.min(offset + PART_BYTES, file.size);
  const res = await fetch(uploadPath(id), {
    method: "PATCH",
    headers: {
      Accept: "application/json",
      "Content-Type": "application/offset+octet-stream",
      "Upload-Offset": String(offset),
      "X-CSRFToken": csrfToken(),
    },
    body: file.slice(offset, end),
    credentials: "same-origin",
    signal,
  });
  if (res.ok) {
    await readBody(res);
    return offsetHeader(res) ?? end;
  }
  const body = await readBody(res);
  throw new ApiError(res.status, body, errorMessage(res.status, body));
}

/** Where the server stands, asked after a failure. */
async function serverOffset(id: string, signal?: AbortSignal): Promise<number> {
  const up = await api.upload(id, signal);
  if (typeof up.offset !== "number") throw new Error("The server did not say how much of the upload it has.");
  return up.offset;
}

/**
 * Sends `file`'s bytes to upload `id` from `offset` on, reporting progress after each part.
 * A dropped connection, a 5xx or a 409 (the server has a different offset) is retried from the
 * offset the server reports, with backoff, up to 5 times in a row; anything else is thrown.
 */
export async function sendBytes(
  id: string,
  file: Blob,
  offset: number,
  onProgress: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<void> {
  let failures = 0;
  onProgress({ sent: offset, total: file.size });
  while (offset < file.size) {
    try {
      const next = await patchPart(id, file, offset, signal);
      if (next <= offset) throw new Error("The server accepted no bytes.");
      offset = next;
      failures = 0;
      onProgress({ sent: offset, total: file.size });
    } catch (err) {
      const conflict = err instanceof ApiError && err.status === 409;
      if (!conflict && !isTransient(err)) throw err;
      // Five failures in a row end it; the upload stays on the server to be resumed later.
      if (++failures > MAX_RETRIES) throw err;
      await sleep(FIRST_BACKOFF_MS * 2 ** (failures - 1), signal);
      offset = await retrying(() => serverOffset(id, signal), signal);
      if (offset > file.size) throw new Error("The server holds more bytes than the file has.");
      onProgress({ sent: offset, total: file.size });
    }
  }
}

/** Runs `call`, trying again with backoff on passing failures. */
async function retrying<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isTransient(err) || attempt >= MAX_RETRIES) throw err;
      await sleep(FIRST_BACKOFF_MS * 2 ** attempt, signal);
    }
  }
}

/** A staged upload, remembered so that a retry (or other options) need not send it again. */
export interface Staged {
  key: string;
  id: string;
}

export const fileKey = (f: File) => JSON.stringify([f.name, f.size, f.lastModified]);

/**
 * Makes sure the server holds all of `file` and answers the upload's id. `staged`, when it is
 * the same file, is resumed where the server stands instead of starting over; `onStaged` hears
 * about a new upload as soon as it exists.
 */
export async function uploadFile(
  file: File,
  staged: Staged | null,
  onStaged: (s: Staged) => void,
  onProgress: (p: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<string> {
  const key = fileKey(file);
  let id: string | null = null;
  let offset = 0;
  if (staged && staged.key === key) {
    try {
      offset = await retrying(() => serverOffset(staged.id, signal), signal);
      id = staged.id;
    } catch (err) {
      // Gone (used, abandoned, or expired): start a new one.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
  if (id === null) {
    const up = await api.createUpload(file.name, file.size, signal);
    id = String(up.id);
    offset = typeof up.offset === "number" ? up.offset : 0;
    onStaged({ key, id });
  }
  try {
    await sendBytes(id, file, offset, onProgress, signal);
  } catch (err) {
    if (err instanceof TypeError) throw new Error(`The connection to the server was lost (${err.message}).`);
    throw err;
  }
  return id;
}
