/**
 * The common-password list packaged with zxcvbn-ts (about 49,000 entries from breach corpora), checked
 * offline. Loaded on first use: it is a few megabytes that most processes never need.
 */
let list: Promise<Set<string>> | undefined;

async function load(): Promise<Set<string>> {
  const { dictionary } = await import('@zxcvbn-ts/language-common');
  return new Set(dictionary['passwords-common']);
}

export async function isCommonPassword(password: string): Promise<boolean> {
  list ??= load();
  return (await list).has(password.toLowerCase());
}
