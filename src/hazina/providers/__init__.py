"""Payment provider adapters; each implements a Protocol of hazina.services.ports."""
