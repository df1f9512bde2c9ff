// Who else is in the workflow: one avatar per person (their tabs merged), in their colour; a person who leaves
// fades out before the avatar goes.
import { useEffect, useState } from "react";
import type { Awareness } from "y-protocols/awareness";
import { initials, peersOf, type Peer } from "./presence";
import "./coedit.css";

const FADE_MS = 600;

interface Shown {
  peer: Peer;
  leaving: boolean;
}

function byUser(peers: Peer[]): Map<number, Peer> {
  const people = new Map<number, Peer>();
  for (const peer of peers) if (!people.has(peer.user.id)) people.set(peer.user.id, peer);
  return people;
}

export function PresenceAvatars({ awareness }: { awareness: Awareness }) {
  const [shown, setShown] = useState<Map<number, Shown>>(() => new Map());
  useEffect(() => {
    const timers = new Set<ReturnType<typeof setTimeout>>();
    const update = () => {
      const present = byUser(peersOf(awareness));
      setShown((previous) => {
        const next = new Map<number, Shown>();
        for (const [id, peer] of present) next.set(id, { peer, leaving: false });
        for (const [id, entry] of previous) {
          if (present.has(id) || entry.leaving) continue;
          next.set(id, { peer: entry.peer, leaving: true });
          const timer = setTimeout(() => {
            timers.delete(timer);
            setShown((now) => {
              const kept = new Map(now);
              if (kept.get(id)?.leaving) kept.delete(id);
              return kept;
            });
          }, FADE_MS);
          timers.add(timer);
        }
        return next;
      });
    };
    update();
    awareness.on("change", update);
    return () => {
      awareness.off("change", update);
      for (const timer of timers) clearTimeout(timer);
    };
  }, [awareness]);

  if (shown.size === 0) return null;
  return (
    <ul className="coedit-avatars" aria-label="People in this workflow">
      {[...shown.values()].map(({ peer, leaving }) => (
        <li
          key={peer.user.id}
          className={leaving ? "coedit-avatar coedit-avatar-leaving" : "coedit-avatar"}
          style={{ background: peer.user.color, transition: `opacity ${FADE_MS}ms`, opacity: leaving ? 0 : 1 }}
          title={peer.dragging ? `${peer.user.name} (moving node ${peer.dragging})` : peer.user.name}
        >
          {initials(peer.user.name)}
        </li>
      ))}
    </ul>
  );
}
