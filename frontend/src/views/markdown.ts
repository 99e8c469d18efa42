import { h } from "../dom";

/**
 * A small markdown subset for model cards: headings, bullet lists, paragraphs and `code`.
 * Everything becomes text nodes through h(), so a card can never inject markup.
 */
export function renderMarkdown(text: string): HTMLElement {
  const root = h("div", { class: "markdown" });
  let list: HTMLUListElement | null = null;
  let paragraph: string[] = [];

  const flush = () => {
    if (paragraph.length) root.append(h("p", null, inline(paragraph.join(" "))));
    paragraph = [];
  };
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      list = null;
      const level = Math.min(heading[1]!.length + 1, 5);
      root.append(h(`h${level}` as "h2", null, inline(heading[2]!)));
    } else if (bullet) {
      flush();
      if (!list) {
        list = h("ul");
        root.append(list);
      }
      list.append(h("li", null, inline(bullet[1]!)));
    } else if (!line.trim()) {
      flush();
      list = null;
    } else {
      list = null;
      paragraph.push(line.trim());
    }
  }
  flush();
  return root;
}

function inline(text: string): Array<Node | string> {
  return text.split(/(`[^`]+`)/).map((part) => (part.startsWith("`") && part.endsWith("`") && part.length > 1 ? h("code", null, part.slice(1, -1)) : part));
}
