// A group drawn behind its nodes: a titled rectangle; drag the title bar to move it with its contents,
// double-click the title to rename, × to remove the frame (the nodes stay).
import type { NodeProps } from "@xyflow/react";
import { memo, useState } from "react";
import type { GroupFlowNode } from "../flow-types";
import { removeGroup, renameGroup } from "../groups";
import { useEditorStore, useEditorStoreApi } from "../store-context";

function GroupNodeView({ data }: NodeProps<GroupFlowNode>) {
  const store = useEditorStoreApi();
  const group = useEditorStore((s) => s.graph.groups.find((g) => g.id === data.groupId));
  const [editing, setEditing] = useState(false);
  if (!group) return null;
  const commit = (title: string) => {
    setEditing(false);
    store.getState().change((g) => renameGroup(g, group.id, title));
  };
  return (
    <div
      className="fy-group"
      style={{ width: group.width, height: group.height, ...(group.color ? { borderColor: group.color } : {}) }}
      data-group={group.id}
    >
      <div className="fy-group-title" onDoubleClick={() => !data.readOnly && setEditing(true)}>
        {editing ? (
          <input
            className="nodrag"
            aria-label="Group title"
            defaultValue={group.title}
            autoFocus
            onBlur={(e) => commit(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") commit(e.currentTarget.value);
              if (e.key === "Escape") setEditing(false);
            }}
          />
        ) : (
          <span>{group.title}</span>
        )}
        {!data.readOnly && (
          <button
            type="button"
            className="fy-group-remove nodrag"
            title="Remove the group frame (keeps its nodes)"
            onClick={() => store.getState().change((g) => removeGroup(g, group.id))}
          >
            ×
          </button>
        )}
      </div>
    </div>
  );
}

export const GroupNode = memo(GroupNodeView);
