import { useState, type ReactNode, type RefObject } from "react";
import { Button } from "react-aria-components";

/** Copies `text` to the clipboard; where there is no clipboard (an insecure origin, or refused),
 * selects the shown copy (`shown`) for a manual copy and says so. */
export function CopyButton({ id, text, shown }: { id?: string; text: string; shown: RefObject<HTMLElement | null> }): ReactNode {
  const [label, setLabel] = useState("Copy");
  return (
    <Button
      id={id}
      className="secondary"
      onPress={() => {
        navigator.clipboard.writeText(text).then(
          () => setLabel("Copied"),
          () => {
            if (shown.current) getSelection()?.selectAllChildren(shown.current);
            setLabel("Selected: copy it");
          },
        );
      }}
    >
      {label}
    </Button>
  );
}
