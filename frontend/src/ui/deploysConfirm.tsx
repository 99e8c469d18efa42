import { useState, type ReactNode } from "react";
import { Button, Dialog, DialogTrigger, Heading, Modal } from "react-aria-components";
import "../views/deploys.css";

/**
 * A button that asks before doing something that cannot be undone (deleting, revoking): a modal
 * alert dialog with the question, Cancel, and the action. Focus moves into the dialog and comes
 * back to the button; Escape cancels.
 */
export function ConfirmButton({
  children,
  id,
  className = "secondary",
  testId,
  isDisabled,
  title,
  question,
  confirmLabel,
  onConfirm,
}: {
  children: ReactNode;
  id?: string;
  className?: string;
  testId?: string;
  isDisabled?: boolean;
  title: string;
  question: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
}): ReactNode {
  const [open, setOpen] = useState(false);
  return (
    <DialogTrigger isOpen={open} onOpenChange={setOpen}>
      <Button id={id} className={className} data-testid={testId} isDisabled={isDisabled}>
        {children}
      </Button>
      <Modal isDismissable className="react-aria-Modal deploys-modal">
        <Dialog role="alertdialog" className="react-aria-Dialog deploys-dialog">
          <Heading slot="title">{title}</Heading>
          <p>{question}</p>
          <div className="actions">
            <Button className="secondary" onPress={() => setOpen(false)}>
              Cancel
            </Button>
            <Button
              className="danger"
              onPress={() => {
                setOpen(false);
                onConfirm();
              }}
            >
              {confirmLabel}
            </Button>
          </div>
        </Dialog>
      </Modal>
    </DialogTrigger>
  );
}
