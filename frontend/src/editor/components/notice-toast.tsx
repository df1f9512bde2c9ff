import { useEffect } from "react";
import { useEditorStore } from "../store-context";

/** Shows the store's latest notice (a refused link, a paste problem) for a few seconds. */
export function NoticeToast() {
  const notice = useEditorStore((s) => s.notice);
  const dismiss = useEditorStore((s) => s.dismissNotice);
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(dismiss, 5000);
    return () => clearTimeout(timer);
  }, [notice, dismiss]);
  if (!notice) return null;
  return (
    <div
      className={`fy-toast fy-toast-${notice.kind}`}
      role={notice.kind === "error" ? "alert" : "status"}
      onClick={dismiss}
    >
      {notice.text}
    </div>
  );
}
