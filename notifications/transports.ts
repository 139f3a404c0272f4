import nodemailer from 'nodemailer';
import { redactUrl } from '../runtime/redact.js';

export interface OutgoingMessage {
  to: string;
  toName: string;
  subject: string;
  text: string;
  html: string;
  /** The links by key, for transports that show them rather than the rendered text (the log). */
  links?: Record<string, string>;
}

/** Delivers one message; a rejected promise is a failed attempt that the outbox retries. */
export interface Transport {
  name: string;
  send(message: OutgoingMessage): Promise<void>;
}

/**
 * Upper bounds on one SMTP exchange. nodemailer's defaults (2 min to connect,
 * 10 min of socket inactivity) would let one send outlive the outbox's retry
 * delay, which doubles as the claim's lease (see outbox.ts); query parameters
 * in the URL (`?socketTimeout=60000`) still override these.
 */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

/** Sends through an SMTP server named by a URL such as `smtp://user:pass@mail.example.com:587`. */
export function smtpTransport(url: string, from: string): Transport {
  const mailer = nodemailer.createTransport({ ...SMTP_TIMEOUTS, url });
  return {
    name: 'smtp',
    async send(message) {
      await mailer.sendMail({
        from,
        to: { name: message.toName, address: message.to },
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
    },
  };
}

/**
 * Writes each message to the log instead of sending it: the embedded default has no mail server.
 * Link tokens are left out (a log is read by more people than the recipient): the approver
 * decides in the API, the requester answers the survey at /api/requests/:id/survey.
 */
export function logTransport(log: (line: string) => void): Transport {
  return {
    name: 'log',
    async send(message) {
      const links = Object.entries(message.links ?? {}).map(([key, url]) => ` ${key}=${redactUrl(url)}`);
      log(`mail to ${message.toName} <${message.to}>: ${JSON.stringify(message.subject)}${links.join('')}`);
    },
  };
}

/** SMTP when SMTP_URL is set (from MAIL_FROM), else the log. */
export function transportFromEnv(env: NodeJS.ProcessEnv, log: (line: string) => void): Transport {
  const url = env.SMTP_URL;
  if (!url) return logTransport(log);
  return smtpTransport(url, env.MAIL_FROM || 'reqflow <reqflow@localhost>');
}
