// How much of a node the canvas draws at a zoom: LiteGraph's low-quality rendering, in two steps.

/**
 * Below this zoom, nodes draw their widget values as text instead of form controls: at a fifth of their size
 * controls cannot be used anyway, and 500 nodes' worth of inputs and selects were most of the time it took to open
 * a large workflow. Zooming in brings the controls back.
 */
export const COMPACT_ZOOM = 0.5;

/**
 * Below this zoom, nodes are drawn as boxes with their title, border and handles only (the canvas gets the
 * `fy-overview` class, styles.css): row labels and widget values, a few pixels high and unreadable there, are
 * hidden but keep their place, so no node changes size and React Flow re-measures nothing when the zoom crosses
 * this line; edges keep their ports. Skipping that text is what makes a pan or drag of a zoomed-out large graph
 * cheaper to paint.
 */
export const OVERVIEW_ZOOM = 0.3;

/** `full`: form controls; `compact`: values as text; `overview`: boxes, titles and handles. */
export type NodeLook = "full" | "compact" | "overview";

export function nodeLook(zoom: number): NodeLook {
  if (zoom < OVERVIEW_ZOOM) return "overview";
  return zoom < COMPACT_ZOOM ? "compact" : "full";
}
