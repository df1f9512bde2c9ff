// The editor's File menu entry "New from template": the built-in gallery in a dialog; using a template opens
// the new workflow (unsaved changes here are confirmed first).
import { useState } from "react";
import { createPortal } from "react-dom";
import { useSession } from "../app/session";
import { TemplateGallery } from "./template-gallery";

export function NewFromTemplateButton({ confirmLeave }: { confirmLeave?: () => boolean }) {
  const [open, setOpen] = useState(false);
  const { session } = useSession();
  if (session.status !== "signed-in") return null;
  return (
    <>
      <button
        type="button"
        onClick={() => {
          if (!confirmLeave || confirmLeave()) setOpen(true);
        }}
        title="Start a new workflow from a built-in template"
      >
        New from template
      </button>
      {open &&
        // Portalled: the File menu hides its closed items, and this dialog outlives the menu.
        createPortal(
          <div className="fy-modal-backdrop" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
            <section className="fy-modal fy-template-dialog" role="dialog" aria-label="New from template">
              <header>
                <h2>New from template</h2>
                <button type="button" onClick={() => setOpen(false)} aria-label="Close" autoFocus>
                  ×
                </button>
              </header>
              <TemplateGallery workspace={session.user.personal_workspace.id} onUsed={() => setOpen(false)} />
            </section>
          </div>,
          document.body,
        )}
    </>
  );
}
