import { describe, expect, it, vi } from "vitest";
import { lazyView, type View } from "./router";

const ctx = (signal = new AbortController().signal) => ({ params: {}, signal });

describe("lazyView", () => {
  it("fetches a page's code once, tries again after a failed fetch, and draws nothing once left", async () => {
    const drawn = vi.fn<View>();
    const load = vi
      .fn<() => Promise<View>>()
      .mockRejectedValueOnce(new Error("chunk gone"))
      .mockResolvedValue(drawn);
    const view = lazyView(load);
    const root = {} as HTMLElement;

    await expect(view(root, ctx())).rejects.toThrow("chunk gone");
    await view(root, ctx());
    await view(root, ctx());
    expect(load).toHaveBeenCalledTimes(2);
    expect(drawn).toHaveBeenCalledTimes(2);

    const left = new AbortController();
    left.abort();
    await view(root, ctx(left.signal));
    expect(drawn).toHaveBeenCalledTimes(2);
  });
});
