// A drop-down of header actions (File: import and export), so that the editor header fits 1280 px on one line.
// Its items stay mounted while closed: their hidden file inputs keep working and an error they show (role=alert)
// stays visible under the button.
import { useEffect, useRef, useState, type ReactNode } from "react";

export function HeaderMenu({ label, title, children }: { label: string; title?: string; children: ReactNode }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent | KeyboardEvent) => {
      if (e instanceof KeyboardEvent ? e.key === "Escape" : !root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);
  return (
    <div className="fy-header-menu" ref={root}>
      <button type="button" aria-haspopup="menu" aria-expanded={open} title={title} onClick={() => setOpen(!open)}>
        {label} ▾
      </button>
      <div
        className={open ? "fy-header-menu-items open" : "fy-header-menu-items"}
        role="menu"
        aria-label={label}
        // A click on an item closes the menu (after the item acted).
        onClick={(e) => {
          if ((e.target as Element).closest("button")) setOpen(false);
        }}
      >
        {children}
      </div>
    </div>
  );
}

/** A labelled group of entries inside a header menu (the File menu's "Export" entries). */
export function HeaderMenuGroup({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="fy-header-menu-group" role="group" aria-label={label}>
      <span className="fy-header-menu-label">{label}</span>
      {children}
    </div>
  );
}
