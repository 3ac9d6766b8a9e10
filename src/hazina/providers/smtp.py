"""Email out through an SMTP server (aiosmtplib): the deployment's one mail channel."""

import email.utils
from email.message import EmailMessage

import aiosmtplib

from hazina.domain.providers import ProviderFailure

# A server that does not answer in this long is away for now: the job tries again later.
SMTP_TIMEOUT_SECONDS = 20.0


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None,
        password: str | None,
        security: str,
        sender: str,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._security = security
        self._sender = sender

    async def send_email(self, to: str, subject: str, text: str) -> str:
        """Send one plain-text email; its Message-ID. Raises ProviderFailure, retryable unless
        the server refused it for good (a 5xx: no such mailbox, refused sender)."""
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id = email.utils.make_msgid(domain="hazina")
        message.set_content(text)
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._security == "tls",
                start_tls=self._security == "starttls",
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise ProviderFailure(f"SMTP refused the recipient: {exc}") from None
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            raise ProviderFailure(
                f"SMTP {exc.code}: {exc.message}", retryable=not permanent
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ProviderFailure(f"SMTP unreachable: {exc}", retryable=True) from None
        return message_id
