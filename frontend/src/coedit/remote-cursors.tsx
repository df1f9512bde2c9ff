// Others on the canvas: their pointers (with their name, in their colour), the nodes they selected and the node
// they are dragging; this tab's pointer and drag are shown to them. Mounted by CoeditSession, it reaches the
// canvas through React Flow's DOM (its viewport element is transformed by pan and zoom, so what is placed in it
// is in flow coordinates) rather than through the editor's components.
import { useEffect, useState } from "react";
import { createPortal } from "react-dom";
import type { Awareness } from "y-protocols/awareness";
import { peersOf, showPresence, type Peer } from "./presence";

const SEND_EVERY_MS = 50;

function viewportElement(): HTMLElement | null {
  return document.querySelector<HTMLElement>(".fy-canvas .react-flow__viewport");
}

/** Client coordinates to flow coordinates through the viewport element's transform. */
function toFlow(viewport: HTMLElement, clientX: number, clientY: number): { x: number; y: number } {
  const rect = viewport.getBoundingClientRect(); // its origin: the flow's (0, 0) on screen
  const matrix = new DOMMatrixReadOnly(getComputedStyle(viewport).transform);
  const zoom = matrix.a || 1;
  return { x: Math.round((clientX - rect.left) / zoom), y: Math.round((clientY - rect.top) / zoom) };
}

/** The outline each node gets from the peers: their selection (solid) and the node they drag (dashed). */
export function outlines(peers: Peer[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const peer of peers) {
    for (const id of peer.selection ?? []) if (!found.has(id)) found.set(id, `2px solid ${peer.user.color}`);
    if (peer.dragging) found.set(peer.dragging, `2px dashed ${peer.user.color}`);
  }
  return found;
}

export function RemoteCursors({ awareness }: { awareness: Awareness }) {
  const [peers, setPeers] = useState<Peer[]>(() => peersOf(awareness));
  const [viewport, setViewport] = useState<HTMLElement | null>(null);

  useEffect(() => {
    const update = () => setPeers(peersOf(awareness));
    awareness.on("change", update);
    // The canvas may mount after this component, and remount: look for its viewport now and then.
    const find = () => setViewport((known) => (known?.isConnected ? known : viewportElement()));
    const finder = setInterval(find, 500);
    queueMicrotask(find);
    return () => {
      awareness.off("change", update);
      clearInterval(finder);
    };
  }, [awareness]);

  useEffect(() => {
    // Set on the node elements themselves: the site's CSP allows style attributes, not <style> elements.
    const marked: HTMLElement[] = [];
    for (const [id, outline] of outlines(peers)) {
      const element = document.querySelector<HTMLElement>(`.fy-canvas .react-flow__node[data-id="${CSS.escape(id)}"]`);
      if (!element) continue;
      element.style.outline = outline;
      element.style.outlineOffset = "3px";
      marked.push(element);
    }
    return () => {
      for (const element of marked) {
        element.style.outline = "";
        element.style.outlineOffset = "";
      }
    };
  }, [peers]);

  useEffect(() => {
    let last = 0;
    let dragging: string | null = null;
    let latest: { x: number; y: number } | null = null;
    let trailing: ReturnType<typeof setTimeout> | null = null;
    const send = () => {
      trailing = null;
      last = performance.now();
      showPresence(awareness, { cursor: latest, dragging });
    };
    const move = (event: PointerEvent) => {
      const element = viewportElement();
      if (!element) return;
      latest = toFlow(element, event.clientX, event.clientY);
      const node = (event.target as Element | null)?.closest?.(".react-flow__node")?.getAttribute("data-id") ?? null;
      const nowDragging = event.buttons === 1 ? (dragging ?? node) : null;
      const wait = SEND_EVERY_MS - (performance.now() - last);
      if (nowDragging !== dragging || wait <= 0) {
        dragging = nowDragging;
        if (trailing) clearTimeout(trailing);
        send();
      } else if (!trailing) {
        trailing = setTimeout(send, wait); // the last position of a quick move is sent too
      }
    };
    const leave = () => {
      if (trailing) clearTimeout(trailing);
      trailing = null;
      dragging = null;
      showPresence(awareness, { cursor: null, dragging: null });
    };
    const canvas = viewport?.closest<HTMLElement>(".fy-canvas") ?? null;
    // Captured: the editor's widgets stop pointer events from bubbling to the canvas.
    canvas?.addEventListener("pointermove", move, { capture: true });
    canvas?.addEventListener("pointerleave", leave);
    window.addEventListener("pointerup", leave);
    return () => {
      if (trailing) clearTimeout(trailing);
      canvas?.removeEventListener("pointermove", move, { capture: true });
      canvas?.removeEventListener("pointerleave", leave);
      window.removeEventListener("pointerup", leave);
    };
  }, [awareness, viewport]);

  return (
    <>
      {viewport &&
        createPortal(
          peers
            .filter((peer) => peer.cursor)
            .map((peer) => (
              <div
                key={peer.clientId}
                className="coedit-cursor"
                style={{ left: peer.cursor!.x, top: peer.cursor!.y, color: peer.user.color }}
              >
                <svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">
                  <path d="M0 0 L0 12 L4 9 L7 14 L9 13 L6 8 L11 8 Z" fill="currentColor" />
                </svg>
                <span style={{ background: peer.user.color }}>{peer.user.name}</span>
              </div>
            )),
          viewport,
        )}
    </>
  );
}
