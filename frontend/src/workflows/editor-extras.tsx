// The editor header's workflow actions (history, share, fork, template, import/export) and their panels.
import { useState, type ReactNode } from "react";
import { errorMessage } from "../api/client";
import { workflows } from "../api/endpoints";
import type { WorkflowDetail } from "../api/schemas";
import { useEditorStoreApi } from "../editor/store-context";
import { workflowEditReason } from "../teams/team-permissions";
import { ExportComfyButton, ExportComfyWorkflowButton } from "../comfy/comfy-controls";
import { AppPanel } from "../apps/app-panel";
import { AutomationPanel } from "../automation/automation-panel";
import { ForkDialog, ImportExport, ShareDialog, useLoadVersion, VersionHistoryPanel } from "./editor-panels";
import { HeaderMenu, HeaderMenuGroup } from "./header-menu";
import { ExportVersionButton } from "../templates/export-items";

export function EditorExtras({
  workflow: initial,
  name,
  version,
  onVersion,
  readOnly = false,
  fileItems,
}: {
  workflow: WorkflowDetail;
  name: string;
  version: number | null;
  onVersion(n: number): void;
  /** The caller may not edit: no Import (it replaces the canvas), and Fork is the highlighted way to edit. */
  readOnly?: boolean;
  /** More entries for the File menu (the ComfyUI import). */
  fileItems?: ReactNode;
}) {
  const store = useEditorStoreApi();
  const [workflow, setWorkflow] = useState(initial);
  const [panel, setPanel] = useState<"history" | "share" | "fork" | "app" | "automation" | null>(null);
  const loadVersion = useLoadVersion();
  const editReason = workflowEditReason(workflow.permissions);
  const toggleTemplate = () => {
    workflows.update(workflow.id, { is_template: !workflow.is_template }).then(
      (updated) => {
        setWorkflow((w) => ({ ...w, is_template: updated.is_template }));
        store
          .getState()
          .notify(
            "info",
            updated.is_template ? "Listed in the team's template gallery." : "Removed from the template gallery.",
          );
      },
      (exc: unknown) => store.getState().notify("error", errorMessage(exc)),
    );
  };
  return (
    <>
      <button
        type="button"
        onClick={() => setPanel(panel === "history" ? null : "history")}
        aria-pressed={panel === "history"}
      >
        History
      </button>
      <button type="button" onClick={() => setPanel(panel === "app" ? null : "app")} aria-pressed={panel === "app"}>
        App
      </button>
      <button
        type="button"
        onClick={() => setPanel(panel === "automation" ? null : "automation")}
        aria-pressed={panel === "automation"}
        title="Webhooks, trigger URLs and schedules"
      >
        Automation
      </button>
      <button type="button" onClick={() => setPanel("share")}>
        Share{workflow.public_url ? " (public)" : workflow.visibility === "private" ? " (private)" : ""}
      </button>
      <button
        type="button"
        className={readOnly ? "fy-primary" : undefined}
        onClick={() => setPanel("fork")}
        title="Copy into a workspace where you may edit"
      >
        Fork
      </button>
      <label className="fy-check" title={editReason ?? "List this workflow in the team's template gallery"}>
        <input
          type="checkbox"
          checked={workflow.is_template}
          disabled={editReason !== null}
          onChange={toggleTemplate}
        />{" "}
        Template
      </label>
      <HeaderMenu label="File" title="Import and export">
        {fileItems}
        <ImportExport name={name} canImport={!readOnly} />
        <ExportComfyWorkflowButton name={name} />
        <ExportComfyButton
          workflowId={workflow.id}
          name={name}
          version={version}
          onError={(m) => store.getState().notify("error", m)}
        />
        <HeaderMenuGroup label="Export as code or picture">
          {(["python", "svg"] as const).map((format) => (
            <ExportVersionButton
              key={format}
              format={format}
              workflowId={workflow.id}
              version={version}
              onError={(m) => store.getState().notify("error", m)}
            />
          ))}
        </HeaderMenuGroup>
      </HeaderMenu>
      {panel === "history" && (
        <VersionHistoryPanel
          workflow={workflow}
          current={version}
          onClose={() => setPanel(null)}
          onRestored={(v) => {
            loadVersion(v);
            onVersion(v.number);
            store.getState().notify("info", `Restored as version ${v.number}.`);
          }}
        />
      )}
      {panel === "share" && (
        <ShareDialog
          workflow={workflow}
          onChanged={(patch) => setWorkflow((w) => ({ ...w, ...patch }))}
          onClose={() => setPanel(null)}
        />
      )}
      {panel === "fork" && <ForkDialog workflow={workflow} onClose={() => setPanel(null)} />}
      {panel === "app" && <AppPanel workflow={workflow} version={version} onClose={() => setPanel(null)} />}
      {panel === "automation" && <AutomationPanel workflow={workflow} onClose={() => setPanel(null)} />}
    </>
  );
}
