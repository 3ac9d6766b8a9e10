"""What a merchant's accountant asks for: filtered payment lists, CSV exports, daily figures."""
