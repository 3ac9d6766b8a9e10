"""Notifications: messages to buyers and merchants over WhatsApp and email, each a row written in
the transaction of the change that causes it and sent by a `send_notification` job."""
