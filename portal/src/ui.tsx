/** An error the person must notice: announced at once by screen readers (role="alert"). */
export function Problem({ text }: { text: string | undefined }) {
  if (!text) return null;
  return (
    <p role="alert" className="error">
      {text}
    </p>
  );
}
