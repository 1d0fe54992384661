import { type FormEvent, type ReactNode, useId } from 'react';

/** A one-field search that hands its trimmed words to `onSearch` when submitted. */
export function SearchForm({
  label,
  value,
  onSearch,
  children,
}: {
  label: string;
  value: string;
  onSearch: (q: string) => void;
  children?: ReactNode;
}) {
  const id = useId();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    onSearch(String(new FormData(e.currentTarget).get('q') ?? '').trim());
  };
  return (
    <form className="inline" onSubmit={submit}>
      <div className="field">
        <label htmlFor={id}>{label}</label>
        <input id={id} name="q" type="search" defaultValue={value} />
      </div>
      <button type="submit">Search</button>
      {children}
    </form>
  );
}
