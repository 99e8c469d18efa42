// @vitest-environment happy-dom
import { cleanup, render } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Markdown, markdownBlocks } from "./markdown";

describe("markdown", () => {
  afterEach(cleanup);

  it("reads headings, lists and paragraphs", () => {
    expect(markdownBlocks("# Task\n\n- one\n- two\ntext\nmore")).toEqual([
      { kind: "heading", level: 2, text: "Task" },
      { kind: "list", items: ["one", "two"] },
      { kind: "paragraph", text: "text more" },
    ]);
  });

  it("shows markup as text and `code` as code", () => {
    const { container } = render(<Markdown text={"## <b>x</b>\n\nuse `fit()` now"} />);
    expect(container.querySelector("h3")!.textContent).toBe("<b>x</b>");
    expect(container.querySelector("b")).toBeNull();
    expect(container.querySelector("p code")!.textContent).toBe("fit()");
  });
});
