import type { ReactNode } from "react";
import { Checkbox } from "react-aria-components";

/** A React Aria checkbox with a drawn box (the native input is visually hidden). */
export function CheckField({
  children,
  isSelected,
  onChange,
  ariaLabel,
  name,
  className,
  ...data
}: {
  children?: ReactNode;
  isSelected: boolean;
  onChange: (selected: boolean) => void;
  ariaLabel?: string;
  name?: string;
  className?: string;
  [key: `data-${string}`]: string | undefined;
}): ReactNode {
  return (
    <Checkbox
      {...data}
      name={name}
      aria-label={ariaLabel}
      className={className ? `react-aria-Checkbox ${className}` : undefined}
      isSelected={isSelected}
      onChange={onChange}
    >
      <span className="box" aria-hidden="true">
        <svg viewBox="0 0 18 18">
          <polyline points="3.5 9.5 7.5 13 14.5 5" />
        </svg>
      </span>
      {children}
    </Checkbox>
  );
}
