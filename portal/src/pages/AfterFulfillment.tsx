import { useState, type FormEvent } from 'react';
import { api, post, type RequestView } from '../api.ts';
import { useApi } from '../hooks.ts';
import { Problem } from '../ui.tsx';

/** "Did this answer help?" under a knowledge answer: "No" hands the question to the service desk. */
export function AnswerFeedback({ request, onDone }: { request: RequestView; onDone: () => void }) {
  const [said, setSaid] = useState<string>();
  const [error, setError] = useState<string>();
  const tell = (helpful: boolean) =>
    post(`/api/requests/${request.id}/answer-feedback`, { helpful }).then(
      () => {
        setSaid(helpful ? 'Thanks: glad it helped.' : 'Thanks: the service desk will answer you in writing.');
        onDone();
      },
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  return (
    <section aria-labelledby="helped" className="panel">
      <h2 id="helped">Did this answer help?</h2>
      {said ? (
        <p role="status">{said}</p>
      ) : (
        <div className="actions">
          <button type="button" onClick={() => void tell(true)}>
            Yes, it helped
          </button>
          <button type="button" onClick={() => void tell(false)}>
            No, ask the service desk
          </button>
        </div>
      )}
      <Problem text={error} />
    </section>
  );
}

interface SurveyView {
  answered: boolean;
  score?: number;
}

const SCORES = ['Very dissatisfied', 'Dissatisfied', 'Neutral', 'Satisfied', 'Very satisfied'];

/** The one-question satisfaction survey of a fulfilled request, for its requester. */
export function Survey({ request }: { request: RequestView }) {
  const path = `/api/requests/${request.id}/survey`;
  const { data, reload } = useApi<SurveyView>(path);
  const [score, setScore] = useState<number>();
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string>();
  if (!data) return null;
  const send = (e: FormEvent) => {
    e.preventDefault();
    if (!score) return setError('Choose how satisfied you are.');
    api('PUT', path, { score, ...(comment.trim() ? { comment } : {}) }).then(reload, (err: unknown) =>
      setError(err instanceof Error ? err.message : String(err)),
    );
  };
  return (
    <section aria-labelledby="survey" className="panel">
      <h2 id="survey">How did we do?</h2>
      {data.answered && (
        <p role="status">You rated this {SCORES[(data.score ?? 3) - 1]?.toLowerCase()}. Thank you.</p>
      )}
      {!data.answered && (
        <form onSubmit={send}>
          <fieldset>
            <legend>How satisfied are you with how this request was handled?</legend>
            {SCORES.map((label, i) => (
              <label key={label} className="choice">
                <input type="radio" name="score" value={i + 1} onChange={() => setScore(i + 1)} /> {label}
              </label>
            ))}
          </fieldset>
          <div className="field">
            <label htmlFor="survey-comment">Anything to add? (optional)</label>
            <textarea
              id="survey-comment"
              rows={2}
              value={comment}
              onChange={(e) => setComment(e.target.value)}
            />
          </div>
          <Problem text={error} />
          <button type="submit">Send rating</button>
        </form>
      )}
    </section>
  );
}
