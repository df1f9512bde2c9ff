// The editor's Automation panel (docs/webhooks.md): the workflow's webhooks with their recent deliveries and a
// redeliver button, its trigger URLs (secret shown once), and its schedules (cron, time zone, next runs, pause).
import { useState, type FormEvent } from "react";
import { errorMessage } from "../api/client";
import type { WorkflowDetail } from "../api/schemas";
import { useAsync } from "../app/use-async";
import {
  automationApi,
  webhookEvents,
  type Delivery,
  type Schedule,
  type Trigger,
  type Webhook,
} from "./automation-api";
import { curlExample, formatMapping, parseMapping, sampleBody } from "./mapping";
import "./automation.css";

type Tab = "webhooks" | "triggers" | "schedules";

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function AutomationPanel({ workflow, onClose }: { workflow: WorkflowDetail; onClose(): void }) {
  const [tab, setTab] = useState<Tab>("webhooks");
  const canEdit = workflow.permissions?.edit ?? true;
  return (
    <aside className="fy-side-panel fy-automation-panel" aria-label="Automation">
      <header>
        <h2>Automation</h2>
        <button type="button" onClick={onClose} aria-label="Close the automation panel">
          ×
        </button>
      </header>
      {!canEdit ? (
        <p className="fy-hint">Webhooks, triggers and schedules are managed by those who may edit this workflow.</p>
      ) : (
        <>
          <div className="fy-automation-tabs" role="tablist">
            {(["webhooks", "triggers", "schedules"] as const).map((name) => (
              <button
                key={name}
                type="button"
                role="tab"
                aria-selected={tab === name}
                className={tab === name ? "fy-primary" : undefined}
                onClick={() => setTab(name)}
              >
                {name[0]?.toUpperCase() + name.slice(1)}
              </button>
            ))}
          </div>
          {tab === "webhooks" && <Webhooks workflowId={workflow.id} />}
          {tab === "triggers" && <Triggers workflowId={workflow.id} />}
          {tab === "schedules" && <Schedules workflowId={workflow.id} />}
        </>
      )}
    </aside>
  );
}

function Secret({ secret, what }: { secret: string; what: string }) {
  return (
    <div className="fy-automation-secret" role="status">
      <strong>Copy the {what} secret now: it is not shown again.</strong>
      <code>{secret}</code>
    </div>
  );
}

// Webhooks.

function Webhooks({ workflowId }: { workflowId: number }) {
  const hooks = useAsync(() => automationApi.webhooks(workflowId), [workflowId]);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>(["run.finished", "run.failed"]);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<Webhook | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const create = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    automationApi.createWebhook(workflowId, { url, events }).then(
      (hook) => {
        setCreated(hook);
        setUrl("");
        hooks.reload();
      },
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  const act = (promise: Promise<unknown>) => promise.then(hooks.reload, (exc: unknown) => setError(errorMessage(exc)));
  return (
    <section aria-label="Webhooks">
      <p className="fy-hint">Signed POSTs (Standard Webhooks) when runs of this workflow end, retried for 24 h.</p>
      <form onSubmit={create} className="fy-automation-form">
        <label>
          Endpoint URL
          <input
            type="url"
            required
            placeholder="https://hooks.example.com/flowyard"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
        </label>
        <fieldset>
          <legend>Events</legend>
          {webhookEvents.map((name) => (
            <label key={name} className="fy-check">
              <input
                type="checkbox"
                checked={events.includes(name)}
                onChange={(e) => setEvents(e.target.checked ? [...events, name] : events.filter((x) => x !== name))}
              />{" "}
              {name}
            </label>
          ))}
        </fieldset>
        <button type="submit" className="fy-primary" disabled={!url || !events.length}>
          Add webhook
        </button>
      </form>
      {error && <p className="fy-error">{error}</p>}
      {created?.secret && <Secret secret={created.secret} what="webhook" />}
      {hooks.status === "loading" && <p className="fy-hint">Loading…</p>}
      {hooks.status === "error" && <p className="fy-error">{errorMessage(hooks.error)}</p>}
      {hooks.status === "ready" && !hooks.data.length && <p className="fy-empty">No webhooks yet.</p>}
      {hooks.status === "ready" && (
        <ul className="fy-automation-list">
          {hooks.data.map((hook) => (
            <li key={hook.id} data-webhook={hook.id}>
              <div className="fy-automation-title">
                <code>{hook.url}</code>
                <span className={hook.active ? "fy-badge" : "fy-badge fy-muted"}>{hook.active ? "on" : "off"}</span>
              </div>
              <div className="fy-hint">{hook.events.join(", ")}</div>
              <div className="fy-automation-actions">
                <button type="button" onClick={() => setOpen(open === hook.id ? null : hook.id)}>
                  {open === hook.id ? "Hide deliveries" : "Deliveries"}
                </button>
                <SecretItemActions
                  what="webhook"
                  users="Receivers"
                  active={hook.active}
                  onToggle={() => act(automationApi.updateWebhook(hook.id, { active: !hook.active }))}
                  onRotate={() =>
                    automationApi
                      .rotateWebhookSecret(hook.id)
                      .then(setCreated, (exc: unknown) => setError(errorMessage(exc)))
                  }
                  onDelete={() => act(automationApi.deleteWebhook(hook.id))}
                />
              </div>
              {open === hook.id && <Deliveries webhookId={hook.id} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Enable/Disable, Rotate secret and Delete of a webhook or trigger (each asks before it replaces or deletes). */
function SecretItemActions({
  what,
  users,
  active,
  onToggle,
  onRotate,
  onDelete,
}: {
  what: string;
  users: string;
  active: boolean;
  onToggle(): void;
  onRotate(): void;
  onDelete(): void;
}) {
  return (
    <>
      <button type="button" onClick={onToggle}>
        {active ? "Disable" : "Enable"}
      </button>
      <button
        type="button"
        title="A new secret; the old one stops working"
        onClick={() => {
          if (window.confirm(`Replace this ${what}'s secret? ${users} must switch to the new one.`)) onRotate();
        }}
      >
        Rotate secret
      </button>
      <button
        type="button"
        onClick={() => {
          if (window.confirm(`Delete this ${what}?`)) onDelete();
        }}
      >
        Delete
      </button>
    </>
  );
}

function Deliveries({ webhookId }: { webhookId: string }) {
  const page = useAsync(() => automationApi.deliveries(webhookId), [webhookId]);
  const [error, setError] = useState<string | null>(null);
  const redeliver = (delivery: Delivery) =>
    automationApi.redeliver(webhookId, delivery.id).then(page.reload, (exc: unknown) => setError(errorMessage(exc)));
  if (page.status === "loading") return <p className="fy-hint">Loading deliveries…</p>;
  if (page.status === "error") return <p className="fy-error">{errorMessage(page.error)}</p>;
  return (
    <div className="fy-deliveries">
      <button type="button" onClick={page.reload}>
        Refresh
      </button>
      {error && <p className="fy-error">{error}</p>}
      {!page.data.results.length && <p className="fy-empty">No deliveries yet.</p>}
      {page.data.results.map((delivery) => (
        <details key={delivery.id} data-delivery={delivery.id}>
          <summary>
            <span className={`fy-delivery-${delivery.state}`}>{delivery.state}</span> {delivery.event} ·{" "}
            {delivery.attempts} attempt{delivery.attempts === 1 ? "" : "s"} · {when(delivery.created)}
          </summary>
          <div className="fy-hint">
            webhook-id <code>{delivery.message_id}</code>
            {delivery.state === "pending" && delivery.next_attempt_at && (
              <> · next try {when(delivery.next_attempt_at)}</>
            )}
          </div>
          <table className="fy-attempts">
            <thead>
              <tr>
                <th>#</th>
                <th>status</th>
                <th>ms</th>
                <th>answer or error</th>
              </tr>
            </thead>
            <tbody>
              {delivery.attempt_log.map((attempt) => (
                <tr key={attempt.number}>
                  <td>{attempt.number}</td>
                  <td>{attempt.status_code ?? "—"}</td>
                  <td>{Math.round(attempt.duration_ms)}</td>
                  <td>{attempt.error || attempt.response_excerpt.slice(0, 200)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={() => redeliver(delivery)}>
            Redeliver
          </button>
        </details>
      ))}
    </div>
  );
}

// Triggers.

function Triggers({ workflowId }: { workflowId: number }) {
  const triggers = useAsync(() => automationApi.triggers(workflowId), [workflowId]);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<Trigger | null>(null);
  const parsed = parseMapping(text);
  const create = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    automationApi.createTrigger(workflowId, { mapping: parsed.mapping }).then(
      (trigger) => {
        setCreated(trigger);
        setText("");
        triggers.reload();
      },
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  const act = (promise: Promise<unknown>) =>
    promise.then(triggers.reload, (exc: unknown) => setError(errorMessage(exc)));
  return (
    <section aria-label="Triggers">
      <p className="fy-hint">
        A URL that starts a run of the latest version, as you, when called with its secret. Without a mapping the JSON
        body is {'{"node_id": {"input": value}}'}.
      </p>
      <form onSubmit={create} className="fy-automation-form">
        <label>
          Mapping (optional): one “body.field = node_id.input” (or an app input name) per line
          <textarea rows={3} value={text} onChange={(e) => setText(e.target.value)} placeholder="prompt = 6.text" />
        </label>
        {parsed.errors.map((message) => (
          <p key={message} className="fy-error">
            {message}
          </p>
        ))}
        <button type="submit" className="fy-primary" disabled={parsed.errors.length > 0}>
          Add trigger
        </button>
      </form>
      {error && <p className="fy-error">{error}</p>}
      {created?.secret && (
        <>
          <Secret secret={created.secret} what="trigger" />
          <pre className="fy-automation-curl">
            {curlExample(created.url, created.secret, sampleBody(created.mapping))}
          </pre>
        </>
      )}
      {triggers.status === "error" && <p className="fy-error">{errorMessage(triggers.error)}</p>}
      {triggers.status === "ready" && !triggers.data.length && <p className="fy-empty">No triggers yet.</p>}
      {triggers.status === "ready" && (
        <ul className="fy-automation-list">
          {triggers.data.map((trigger) => (
            <li key={trigger.id} data-trigger={trigger.id}>
              <div className="fy-automation-title">
                <code>{trigger.url}</code>
                <span className={trigger.active ? "fy-badge" : "fy-badge fy-muted"}>
                  {trigger.active ? "on" : "off"}
                </span>
              </div>
              <div className="fy-hint">
                owner {trigger.owner} · last fired {when(trigger.last_fired)}
                {Object.keys(trigger.mapping).length > 0 && <pre>{formatMapping(trigger.mapping)}</pre>}
              </div>
              <div className="fy-automation-actions">
                <SecretItemActions
                  what="trigger"
                  users="Callers"
                  active={trigger.active}
                  onToggle={() => act(automationApi.updateTrigger(trigger.id, { active: !trigger.active }))}
                  onRotate={() =>
                    automationApi
                      .rotateTriggerSecret(trigger.id)
                      .then(setCreated, (exc: unknown) => setError(errorMessage(exc)))
                  }
                  onDelete={() => act(automationApi.deleteTrigger(trigger.id))}
                />
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

// Schedules.

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function Schedules({ workflowId }: { workflowId: number }) {
  const schedules = useAsync(() => automationApi.schedules(workflowId), [workflowId]);
  const [cron, setCron] = useState("0 9 * * 1-5");
  const [zone, setZone] = useState(browserZone);
  const [catchUp, setCatchUp] = useState<"skip" | "run_once">("skip");
  const [error, setError] = useState<string | null>(null);
  const preview = useAsync(() => automationApi.preview(cron, zone), [cron, zone]);
  const create = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    automationApi
      .createSchedule(workflowId, { cron, timezone: zone, catch_up: catchUp })
      .then(schedules.reload, (exc: unknown) => setError(errorMessage(exc)));
  };
  const act = (promise: Promise<unknown>) =>
    promise.then(schedules.reload, (exc: unknown) => setError(errorMessage(exc)));
  return (
    <section aria-label="Schedules">
      <p className="fy-hint">Runs of the latest version at cron times in a time zone, as you.</p>
      <form onSubmit={create} className="fy-automation-form">
        <label>
          Cron (minute hour day month weekday)
          <input value={cron} onChange={(e) => setCron(e.target.value)} required />
        </label>
        <label>
          Time zone
          <input value={zone} onChange={(e) => setZone(e.target.value)} required placeholder="Europe/Berlin" />
        </label>
        <label>
          After downtime
          <select value={catchUp} onChange={(e) => setCatchUp(e.target.value === "run_once" ? "run_once" : "skip")}>
            <option value="skip">skip the missed runs</option>
            <option value="run_once">run once for them</option>
          </select>
        </label>
        <div className="fy-hint" aria-label="Next runs">
          {preview.status === "ready" && <>Next: {preview.data.next_runs.slice(0, 3).map(when).join(" · ")}</>}
          {preview.status === "error" && <span className="fy-error">{errorMessage(preview.error)}</span>}
        </div>
        <button type="submit" className="fy-primary" disabled={preview.status !== "ready"}>
          Add schedule
        </button>
      </form>
      {error && <p className="fy-error">{error}</p>}
      {schedules.status === "error" && <p className="fy-error">{errorMessage(schedules.error)}</p>}
      {schedules.status === "ready" && !schedules.data.length && <p className="fy-empty">No schedules yet.</p>}
      {schedules.status === "ready" && (
        <ul className="fy-automation-list">
          {schedules.data.map((schedule: Schedule) => (
            <li key={schedule.id} data-schedule={schedule.id}>
              <div className="fy-automation-title">
                <code>{schedule.cron}</code> {schedule.timezone}
                <span className={schedule.paused ? "fy-badge fy-muted" : "fy-badge"}>
                  {schedule.paused ? "paused" : "active"}
                </span>
              </div>
              <div className="fy-hint">
                owner {schedule.owner} · after downtime: {schedule.catch_up === "skip" ? "skip" : "run once"}
              </div>
              {!schedule.paused && (
                <ul className="fy-next-runs">
                  {schedule.next_runs.slice(0, 3).map((moment) => (
                    <li key={moment}>{when(moment)}</li>
                  ))}
                </ul>
              )}
              {schedule.recent_firings.map((firing) => (
                <div key={firing.occurrence} className={firing.error ? "fy-error" : "fy-hint"}>
                  fired {when(firing.occurrence)}
                  {firing.missed > 0 && ` (${firing.missed} missed)`}
                  {firing.error ? `: ${firing.error}` : ""}
                </div>
              ))}
              <div className="fy-automation-actions">
                <button
                  type="button"
                  onClick={() => act(automationApi.updateSchedule(schedule.id, { paused: !schedule.paused }))}
                >
                  {schedule.paused ? "Resume" : "Pause"}
                </button>
                <button
                  type="button"
                  onClick={() =>
                    window.confirm("Delete this schedule?") && act(automationApi.deleteSchedule(schedule.id))
                  }
                >
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
