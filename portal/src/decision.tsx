import { useState } from 'react';
import { post } from './api.ts';
import { Problem } from './ui.tsx';

export interface Choice<D extends string> {
  decision: D;
  label: string;
  className: 'primary' | 'danger';
}

/**
 * The end of a card that asks a person to decide (an approval, an access review item): an
 * optional comment and one button per choice, posting `{ decision, comment }` to `url`. The
 * buttons stay disabled from the click until the page reloads its list, so a double click
 * decides once; a refusal is shown under the comment and the buttons come back.
 */
export function DecisionForm<D extends string>({
  id,
  url,
  choices,
  onDone,
}: {
  id: string;
  url: string;
  choices: Choice<D>[];
  onDone: () => void;
}) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const decide = async (decision: D) => {
    setBusy(true);
    try {
      await post(url, { decision, ...(comment.trim() ? { comment } : {}) });
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <>
      <div className="field">
        <label htmlFor={id}>Comment (optional)</label>
        <textarea id={id} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
      </div>
      <Problem text={error} />
      <div className="actions">
        {choices.map((c) => (
          <button
            key={c.decision}
            type="button"
            className={c.className}
            disabled={busy}
            onClick={() => void decide(c.decision)}
          >
            {c.label}
          </button>
        ))}
      </div>
    </>
  );
}
