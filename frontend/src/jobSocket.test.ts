import { afterEach, describe, expect, it, vi } from "vitest";
import { followEvents } from "./jobSocket";

// The browser's WebSocket, the boundary: a stand-in that lets the test deliver frames.
class FakeSocket {
  static last: FakeSocket | null = null;
  listeners: Record<string, ((ev: unknown) => void)[]> = {};
  constructor(public url: string) {
    FakeSocket.last = this;
  }
  addEventListener(type: string, fn: (ev: unknown) => void): void {
    (this.listeners[type] ??= []).push(fn);
  }
  close(): void {}
  deliver(data: string): void {
    for (const fn of this.listeners.message ?? []) fn({ data });
  }
}

afterEach(() => vi.unstubAllGlobals());

describe("followEvents", () => {
  it("hands on a frame's events in order, whether one event or an array of several", () => {
    vi.stubGlobal("WebSocket", FakeSocket);
    const seen: number[] = [];
    const controller = new AbortController();
    followEvents<{ kind: string; seq: number }>("ws://x/ws/jobs/1/", controller.signal, {
      onEvent: (ev) => seen.push(ev.seq),
      onState: () => {},
      onRefused: () => {},
      onDropped: () => false,
      shouldReconnect: () => false,
    });
    const socket = FakeSocket.last!;
    const ev = (seq: number) => ({ seq, kind: "tick", payload: {}, created_at: "" });
    socket.deliver(JSON.stringify(ev(1)));
    socket.deliver(JSON.stringify([ev(2), ev(3), ev(4)]));
    socket.deliver(JSON.stringify(ev(5)));
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    controller.abort();
  });
});
