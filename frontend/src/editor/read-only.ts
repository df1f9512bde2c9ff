// Whether the editor shows a graph the user may not change (a viewer's role, a public link). The canvas provides
// it; widgets and node headers read it so that no control inside a node can edit the graph.
import { createContext, useContext } from "react";

export const ReadOnlyContext = createContext(false);

/** True inside a read-only canvas: widgets render disabled, titles and collapse toggles do not edit. */
export function useReadOnly(): boolean {
  return useContext(ReadOnlyContext);
}
