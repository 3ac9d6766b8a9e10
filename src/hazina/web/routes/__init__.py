"""One router module per group of pages."""
