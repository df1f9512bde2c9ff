// The ModelScope models workers hold, with the workers that have each one warm: the Workers and Models pages.
import { Badge } from "../packs/pack-widgets";
import { formatBytes } from "./worker-format";
import type { Model } from "./worker-schemas";

export function ModelScopeTable({
  models,
  framework = false,
  testId,
}: {
  models: Model[];
  framework?: boolean;
  testId?: string;
}) {
  return (
    <table className="fy-table" data-testid={testId}>
      <thead>
        <tr>
          <th>model</th>
          <th>task</th>
          {framework && <th>framework</th>}
          <th>size</th>
          <th>on workers</th>
        </tr>
      </thead>
      <tbody>
        {models.map((m) => (
          <tr key={`${m.model_id}@${m.revision}`}>
            <td>
              <span className="fy-mono">{m.model_id}</span> <span className="fy-muted fy-small">{m.revision}</span>
            </td>
            <td>{m.task ?? "—"}</td>
            {framework && <td>{m.framework ?? "—"}</td>}
            <td>{formatBytes(m.size_bytes)}</td>
            <td className="fy-small">
              {m.workers.map((name) => (
                <div key={name}>
                  {name}
                  {m.warm_on.includes(name) && (
                    <Badge tone="ok" title="Loaded in memory">
                      warm
                    </Badge>
                  )}
                </div>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
