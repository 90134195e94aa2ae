"""aiosmtpd handlers for helpdesk's tests (run with -c helpdesk_smtp_handlers.<Class>)."""


class RejectAll:
    """Refuses every recipient permanently (550)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 mailbox unavailable"


class TempFailAll:
    """Refuses every recipient for now (451)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "451 4.3.0 try again later"
