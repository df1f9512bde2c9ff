import { SHORTCUTS } from "../shortcuts";

export function HelpPanel({ onClose }: { onClose(): void }) {
  return (
    <div className="fy-help" role="dialog" aria-label="Keyboard shortcuts">
      <header>
        <h2>Keyboard shortcuts</h2>
        <button type="button" onClick={onClose} aria-label="Close help">
          ×
        </button>
      </header>
      <table>
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.action}>
              <td>
                <kbd>{s.keys}</kbd>
              </td>
              <td>{s.label}</td>
            </tr>
          ))}
          <tr>
            <td>
              <kbd>Drag a link to empty space</kbd>
            </td>
            <td>Add a compatible node, already linked</td>
          </tr>
          <tr>
            <td>
              <kbd>Right-click a node</kbd>
            </td>
            <td>Rename, bypass, mute, convert widgets and sockets</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}
