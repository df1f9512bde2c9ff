// Popups (node search, context menus) open at the pointer but stay inside the canvas: a box that would run off
// the right or bottom edge is moved back in (or opens upwards), so it never scrolls the page.
import { useLayoutEffect, useRef, type CSSProperties, type RefObject } from "react";
import type { Position } from "../graph-model";

const MARGIN = 8;

/** Where a box of `size` opened at `at` goes inside a `bounds`-sized container. */
export function clampInto(
  at: Position,
  size: { width: number; height: number },
  bounds: { width: number; height: number },
): Position {
  const maxX = bounds.width - size.width - MARGIN;
  const maxY = bounds.height - size.height - MARGIN;
  let y = at.y;
  if (y > maxY) y = at.y - size.height >= MARGIN ? at.y - size.height : maxY;
  return { x: Math.max(MARGIN, Math.min(at.x, maxX)), y: Math.max(MARGIN, y) };
}

/**
 * A ref for the popup and its style at `at`; after each layout where the point or `contentKey` (what changes the
 * popup's height, e.g. its number of results) changed, the popup's left/top are clamped in the DOM.
 */
export function useClampedPosition<T extends HTMLElement>(
  at: Position,
  contentKey: unknown = null,
): [RefObject<T | null>, CSSProperties] {
  const popupRef = useRef<T>(null);
  const { x, y } = at;
  useLayoutEffect(() => {
    const element = popupRef.current;
    const parent = element?.offsetParent;
    if (!element || !(parent instanceof HTMLElement)) return;
    const next = clampInto(
      { x, y },
      { width: element.offsetWidth, height: element.offsetHeight },
      { width: parent.clientWidth, height: parent.clientHeight },
    );
    element.style.left = `${next.x}px`;
    element.style.top = `${next.y}px`;
  }, [x, y, contentKey]);
  return [popupRef, { left: x, top: y }];
}
