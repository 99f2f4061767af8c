/** One message as MailDev's REST API returns it (the fields tests read). */
export interface CapturedMail {
  id: string;
  subject: string;
  text?: string;
  html?: string;
  to: Array<{ address: string; name: string }>;
  headers: Record<string, string>;
}

function apiUrl(): string {
  const url = process.env.MAILDEV_API_URL;
  if (!url) throw new Error('MAILDEV_API_URL is not set: integration tests run under the jest integration project');
  return url.replace(/\/+$/, '');
}

/** Every message the SMTP capture holds for this recipient. */
export async function mailsTo(address: string): Promise<CapturedMail[]> {
  const response = await fetch(`${apiUrl()}/email`);
  if (!response.ok) throw new Error(`MailDev answered ${response.status}`);
  const all = (await response.json()) as CapturedMail[];
  return all.filter((mail) => mail.to.some((to) => to.address.toLowerCase() === address.toLowerCase()));
}

/** Polls until `count` messages reached the recipient, or the deadline passes. */
export async function waitForMails(address: string, count: number, timeoutMs = 20_000): Promise<CapturedMail[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await mailsTo(address);
    if (mails.length >= count || Date.now() > deadline) return mails;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
