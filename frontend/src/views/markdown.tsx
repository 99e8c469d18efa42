import type { ReactNode } from "react";

/** One block of a model card: a heading, a bullet list or a paragraph. */
export type MarkdownBlock =
  | { kind: "heading"; level: 2 | 3 | 4 | 5; text: string }
  | { kind: "list"; items: string[] }
  | { kind: "paragraph"; text: string };

/** A small markdown subset for model cards: headings, bullet lists, paragraphs and `code`. */
export function markdownBlocks(text: string): MarkdownBlock[] {
  const blocks: MarkdownBlock[] = [];
  let list: string[] | null = null;
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) blocks.push({ kind: "paragraph", text: paragraph.join(" ") });
    paragraph = [];
  };
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      list = null;
      blocks.push({ kind: "heading", level: Math.min(heading[1]!.length + 1, 5) as 2 | 3 | 4 | 5, text: heading[2]! });
    } else if (bullet) {
      flush();
      if (!list) {
        list = [];
        blocks.push({ kind: "list", items: list });
      }
      list.push(bullet[1]!);
    } else if (!line.trim()) {
      flush();
      list = null;
    } else {
      list = null;
      paragraph.push(line.trim());
    }
  }
  flush();
  return blocks;
}

function Inline({ text }: { text: string }): ReactNode {
  return text
    .split(/(`[^`]+`)/)
    .map((part, i) =>
      part.startsWith("`") && part.endsWith("`") && part.length > 1 ? <code key={i}>{part.slice(1, -1)}</code> : part,
    );
}

/** A model card. Everything is React text, so a card can never inject markup. */
export function Markdown({ text }: { text: string }): ReactNode {
  return (
    <div className="markdown">
      {markdownBlocks(text).map((b, i) => {
        if (b.kind === "list")
          return (
            <ul key={i}>
              {b.items.map((item, j) => (
                <li key={j}>
                  <Inline text={item} />
                </li>
              ))}
            </ul>
          );
        if (b.kind === "paragraph")
          return (
            <p key={i}>
              <Inline text={b.text} />
            </p>
          );
        const Heading = `h${b.level}` as const;
        return (
          <Heading key={i}>
            <Inline text={b.text} />
          </Heading>
        );
      })}
    </div>
  );
}
