"""Use cases: one async function per verb, one database transaction each."""
