// A canvas note: Markdown (MarkdownNote) or plain text (ComfyUI's Note), rendered sanitised; double-click to edit
// (not in a read-only canvas), × to remove. Notes never run.
import type { NodeProps } from "@xyflow/react";
import { memo, useMemo, useState } from "react";
import { removeNote, setNoteText } from "../canvas-items";
import type { NoteFlowNode } from "../flow-types";
import { renderNoteMarkdown } from "../markdown";
import { useEditorStore, useEditorStoreApi } from "../store-context";

function NoteNodeView({ data }: NodeProps<NoteFlowNode>) {
  const store = useEditorStoreApi();
  const note = useEditorStore((s) => s.graph.notes?.find((n) => n.id === data.noteId));
  const [editing, setEditing] = useState(false);
  const markdown = note?.markdown ?? false;
  const text = note?.text ?? "";
  const html = useMemo(() => (markdown ? renderNoteMarkdown(text) : null), [markdown, text]);
  if (!note) return null;
  const edit = !data.readOnly && editing;
  return (
    <div
      className="fy-note"
      style={{ width: note.width ?? 260, ...(note.height ? { minHeight: note.height } : {}) }}
      data-note={note.id}
    >
      <div className="fy-note-handle">
        <span>{note.markdown ? "Note (Markdown)" : "Note"}</span>
        {!data.readOnly && (
          <button
            type="button"
            className="nodrag"
            aria-label="Remove note"
            title="Remove the note"
            onClick={() => store.getState().change((g) => removeNote(g, note.id))}
          >
            ×
          </button>
        )}
      </div>
      {edit ? (
        <textarea
          className="nodrag nowheel fy-note-input"
          aria-label="Note text"
          autoFocus
          defaultValue={note.text}
          rows={Math.max(4, note.text.split("\n").length + 1)}
          onBlur={(e) => {
            store.getState().change((g) => setNoteText(g, note.id, e.target.value));
            setEditing(false);
          }}
          onKeyDown={(e) => {
            if (e.key === "Escape") setEditing(false);
          }}
        />
      ) : (
        <div
          className={html !== null ? "fy-note-body nowheel" : "fy-note-body plain nowheel"}
          title={data.readOnly ? undefined : "Double-click to edit"}
          onDoubleClick={() => !data.readOnly && setEditing(true)}
          {...(html !== null
            ? { dangerouslySetInnerHTML: { __html: html } }
            : { children: note.text || (data.readOnly ? "" : "Double-click to write") })}
        />
      )}
    </div>
  );
}

export const NoteNode = memo(NoteNodeView);
