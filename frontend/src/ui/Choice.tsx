import type { ReactNode } from "react";
import { Button, Label, ListBox, ListBoxItem, Popover, Select, SelectValue } from "react-aria-components";

const NONE = "__none__";
const fromKey = (key: string) => (key === NONE ? "" : key);

/**
 * A React Aria Select over fixed `[value, label]` choices, with a visible label or, inside a
 * table row, only an accessible name. Each option carries its value in `data-value`.
 */
export function Choice({
  id,
  name,
  label,
  ariaLabel,
  options,
  value,
  onChange,
  isDisabled,
  hint,
  className,
  placeholder,
}: {
  id?: string;
  name?: string;
  label?: string;
  ariaLabel?: string;
  options: Array<[string, string]>;
  /** null: nothing chosen yet (the placeholder shows). */
  value: string | null;
  onChange: (value: string) => void; // "" for the option whose value is "" (no choice)
  isDisabled?: boolean;
  hint?: ReactNode;
  className?: string;
  placeholder?: string;
}): ReactNode {
  return (
    <Select
      id={id}
      name={name}
      aria-label={label ? undefined : ariaLabel}
      className={className ? `react-aria-Select ${className}` : undefined}
      selectedKey={value === null ? null : value || NONE}
      onSelectionChange={(key) => {
        if (key !== null) onChange(fromKey(String(key)));
      }}
      isDisabled={isDisabled}
      placeholder={placeholder}
    >
      {label && <Label>{label}</Label>}
      <Button className="select-button">
        <SelectValue />
        <span aria-hidden="true">▾</span>
      </Button>
      {hint}
      <Popover>
        <ListBox>
          {options.map(([v, text]) => (
            <ListBoxItem key={v || NONE} id={v || NONE} data-value={v} textValue={text}>
              {text}
            </ListBoxItem>
          ))}
        </ListBox>
      </Popover>
    </Select>
  );
}
