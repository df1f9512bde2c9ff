// A reroute: a dot its links are drawn through (ComfyUI's Reroute); drag it to bend them, double-click to remove
// it (the links stay).
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import { removeReroute } from "../canvas-items";
import { inHandle, outHandle, type RerouteFlowNode } from "../flow-types";
import { useEditorStoreApi } from "../store-context";
import { typeColor } from "../type-colors";

function RerouteNodeView({ data }: NodeProps<RerouteFlowNode>) {
  const store = useEditorStoreApi();
  const colour = typeColor(data.valueType);
  return (
    <div
      className="fy-reroute"
      data-reroute={data.rerouteId}
      style={{ borderColor: colour }}
      title={
        data.readOnly ? data.valueType : `${data.valueType}: drag to bend the links, double-click to remove the reroute`
      }
      onDoubleClick={() => !data.readOnly && store.getState().change((g) => removeReroute(g, data.rerouteId))}
    >
      <Handle
        type="target"
        position={Position.Left}
        id={inHandle("value")}
        isConnectable={false}
        className="fy-reroute-handle"
      />
      <Handle
        type="source"
        position={Position.Right}
        id={outHandle(0)}
        isConnectable={false}
        className="fy-reroute-handle"
      />
    </div>
  );
}

export const RerouteNode = memo(RerouteNodeView);
