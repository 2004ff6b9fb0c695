// Addresses the window links to.

/** The web address of a Notion page from its id (32 hex digits, dashes or not), or null for anything else. */
export function notionPageUrl(pageId: string | null | undefined): string | null {
  const hex = (pageId ?? '').replaceAll('-', '');
  return /^[0-9a-fA-F]{32}$/.test(hex) ? `https://www.notion.so/${hex.toLowerCase()}` : null;
}
