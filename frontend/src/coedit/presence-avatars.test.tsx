// @vitest-environment jsdom
// The avatars: one per person in their colour, merged across their tabs, fading out when they leave.
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from "y-protocols/awareness";
import * as Y from "yjs";
import { PresenceAvatars } from "./presence-avatars";

afterEach(cleanup);

/** A remote tab's awareness state arriving in `local`. */
function arrive(local: Awareness, state: object): number {
  const remote = new Awareness(new Y.Doc());
  remote.setLocalState(state);
  applyAwarenessUpdate(local, encodeAwarenessUpdate(remote, [remote.clientID]), "remote");
  return remote.clientID;
}

describe("PresenceAvatars", () => {
  it("shows each person once, in their colour, and fades them out when they leave", () => {
    vi.useFakeTimers();
    const local = new Awareness(new Y.Doc());
    render(<PresenceAvatars awareness={local} />);
    let tab = 0;
    act(() => {
      tab = arrive(local, { user: { id: 2, name: "ann lee", color: "#123456" }, dragging: "4" });
      arrive(local, { user: { id: 2, name: "ann lee", color: "#123456" } });
      arrive(local, { user: { id: 3, name: "Bo", color: "" } });
    });
    const items = screen.getAllByRole("listitem");
    expect(items.map((item) => item.textContent)).toEqual(["AL", "B"]);
    expect(items[0]!.style.background).toBe("rgb(18, 52, 86)");
    act(() => removeAwarenessStates(local, [tab], "remote"));
    expect(screen.getAllByRole("listitem")).toHaveLength(2); // Ann's other tab is still there
    const others = [...local.getStates().keys()].filter((id) => id !== local.clientID);
    act(() => removeAwarenessStates(local, others, "remote"));
    expect(screen.getAllByRole("listitem").every((item) => item.className.includes("leaving"))).toBe(true);
    act(() => vi.advanceTimersByTime(1000));
    expect(screen.queryAllByRole("listitem")).toHaveLength(0);
    vi.useRealTimers();
  });
});
