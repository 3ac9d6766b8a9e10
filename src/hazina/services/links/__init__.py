"""Payment links: a public page (`/l/{code}`) that is the hosted checkout of one order, sent to
its buyer over WhatsApp or email (`hazina.services.notifications`)."""
